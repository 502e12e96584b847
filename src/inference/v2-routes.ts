import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { V2Error, V2InferRequest, V2InferResponse, V2ModelMetadata, V2ServerMetadata } from '../contracts/open-inference.js';
import type { Access } from '../http/access.js';
import { toErrorBody } from '../http/error-handler.js';
import { isMlInputError } from '../ml/errors.js';
import { VERSION } from '../version.js';
import { binaryOutputChoice } from './v2-binary.js';
import { acceptBinaryTensorData, replyInOutputForm, routeBinaryRequests, withBinaryInputs } from './v2-binary-routes.js';
import { inferenceCall, toV2Response } from './inference-call.js';
import { QUEUE_HEADER } from './v2-client.js';
import type { V2ModelSource } from './v2-model-source.js';

const NameParams = Type.Object({ name: Type.String({ maxLength: 200 }) });
const VersionParams = Type.Object({ name: Type.String({ maxLength: 200 }), version: Type.String({ maxLength: 20 }) });
const V2_ERRORS = { 400: V2Error, 401: V2Error, 403: V2Error, 404: V2Error, 413: V2Error, 429: V2Error, 500: V2Error, 503: V2Error };

/** Whole seconds from a shed request's error details (at least 1). */
function retryAfterSeconds(error: unknown): number {
  const details = (error as { details?: { retryAfterSeconds?: unknown } }).details;
  const seconds = Number(details?.retryAfterSeconds);
  return Number.isFinite(seconds) && seconds >= 1 ? Math.ceil(seconds) : 1;
}

/** The protocol extensions these routes implement, by the names Triton gives them (GET /v2). */
export const V2_EXTENSIONS = ['binary_tensor_data'];

/**
 * The Open Inference Protocol over any model source: server and model metadata, health,
 * readiness and infer, with a version in the path or without; tensors as JSON or as binary data
 * (src/inference/v2-binary.ts). Errors are `{"error": "…"}`, as KServe and Triton clients expect.
 * The control plane and every agent mount the same routes.
 */
export function v2Routes(source: V2ModelSource, access: Access): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.setErrorHandler((error: FastifyError, request, reply) => {
      if (isMlInputError(error)) return reply.status(400).send({ error: error.message });
      const { status, body } = toErrorBody(error);
      if (status >= 500 && status !== 503) request.log.error({ err: error }, 'inference request failed');
      if (status === 503) reply.header('retry-after', '5');
      // Shed under overload: the source says when its queue should have drained.
      if (status === 429) reply.header('retry-after', String(retryAfterSeconds(error)));
      return reply.status(status).send({ error: body.message });
    });
    acceptBinaryTensorData(app);

    app.get(
      '/v2',
      {
        config: { access: 'public' },
        schema: { summary: 'Server metadata (V2)', tags: ['inference'], security: [], response: { 200: V2ServerMetadata } },
      },
      async () => ({ name: 'fogline', version: VERSION, extensions: V2_EXTENSIONS }),
    );

    app.get('/v2/health/live', { config: { access: 'public' }, schema: { tags: ['inference'], security: [] } }, async () => ({
      live: true,
    }));
    app.get(
      '/v2/health/ready',
      { config: { access: 'public' }, schema: { tags: ['inference'], security: [] } },
      async (_request, reply) => {
        const ready = await source.ready().catch(() => false);
        return reply.status(ready ? 200 : 503).send({ ready });
      },
    );

    app.get(
      '/v2/models/:name',
      {
        config: { access },
        schema: {
          summary: 'Model metadata (V2)',
          tags: ['inference'],
          params: NameParams,
          response: { 200: V2ModelMetadata, ...V2_ERRORS },
        },
      },
      async (request) => source.metadata(request.params.name),
    );
    app.get(
      '/v2/models/:name/versions/:version',
      {
        config: { access },
        schema: {
          summary: 'Model version metadata (V2)',
          tags: ['inference'],
          params: VersionParams,
          response: { 200: V2ModelMetadata, ...V2_ERRORS },
        },
      },
      async (request) => source.metadata(request.params.name, request.params.version),
    );
    app.get(
      '/v2/models/:name/ready',
      { config: { access }, schema: { summary: 'Whether the model can serve (V2)', tags: ['inference'], params: NameParams } },
      async (request) => {
        await source.modelReady(request.params.name);
        return { name: request.params.name, ready: true };
      },
    );

    const infer = {
      config: { access, audit: false },
      // Binary bodies are told apart by their Inference-Header-Content-Length, whatever their Content-Type.
      onRequest: routeBinaryRequests,
      schema: {
        summary: 'Run inference (Open Inference Protocol; JSON, or binary tensor data)',
        tags: ['inference'],
        body: V2InferRequest,
        response: { 200: V2InferResponse, ...V2_ERRORS },
      },
    };
    const answer = async (request: FastifyRequest, reply: FastifyReply, name: string, version?: string): Promise<V2InferResponse> => {
      const body = withBinaryInputs(request.body as V2InferRequest);
      const binary = binaryOutputChoice(body);
      // The one conversion of the request: every layer below takes this call.
      const result = await whileCallerWaits(request, (signal) => source.infer(inferenceCall(name, version, body, signal)));
      // Where an agent's answer ran, also as a header (its `fogline.ran_on` parameter: edge or cloud).
      if (result.ranOn !== undefined) reply.header('x-fogline-ran-on', result.ranOn);
      if (result.queueMs !== undefined) reply.header(QUEUE_HEADER, result.queueMs.toFixed(1));
      // A Buffer (binary outputs) is sent as it is: the response schema serialises objects only.
      return replyInOutputForm(reply, toV2Response(result, body.id), binary) as V2InferResponse;
    };
    app.post('/v2/models/:name/infer', { ...infer, schema: { ...infer.schema, params: NameParams } }, async (request, reply) =>
      answer(request, reply, request.params.name),
    );
    app.post(
      '/v2/models/:name/versions/:version/infer',
      { ...infer, schema: { ...infer.schema, params: VersionParams } },
      async (request, reply) => answer(request, reply, request.params.name, request.params.version),
    );
  };
}

/**
 * Runs `work` with a signal that aborts if the client's connection closes first (a client that
 * timed out): a queued request nobody waits for is then dropped instead of computed.
 */
async function whileCallerWaits<T>(request: FastifyRequest, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const socket = request.raw.socket as { once?: unknown; off?: unknown } | undefined;
  const onClose = () => controller.abort();
  // Injected test requests have no real socket.
  const watch = typeof socket?.once === 'function' && typeof socket.off === 'function';
  if (watch) request.raw.socket.once('close', onClose);
  try {
    return await work(controller.signal);
  } finally {
    if (watch) request.raw.socket.off('close', onClose);
  }
}
