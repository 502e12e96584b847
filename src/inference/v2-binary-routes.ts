import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { V2InferRequest, V2InferResponse } from '../contracts/open-inference.js';
import { MlInputError } from '../ml/errors.js';
import { INFERENCE_HEADER_LENGTH, decodeBinaryTensors, encodeBinaryResponse, parseHeaderLength, splitBinaryBody } from './v2-binary.js';
import { type BinaryTensorData, withJsonForm } from './v2-binary-tensors.js';

const BINARY_CONTENT_TYPE = 'application/octet-stream';

/**
 * Decoded binary inputs by the parsed request body they belong to. The body schema wants `data`
 * arrays, so the parser leaves an empty one in each binary input and the handler puts the typed
 * array back after validation (withBinaryInputs): validation sees the JSON the client sent.
 */
const binaryInputs = new WeakMap<object, Map<number, BinaryTensorData>>();

/**
 * Teaches the V2 routes (this plugin's scope only) to read binary tensor data: a body with
 * Inference-Header-Content-Length is parsed as JSON header + tensor bytes, within the app's
 * bodyLimit like any body.
 */
export function acceptBinaryTensorData(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser(BINARY_CONTENT_TYPE, { parseAs: 'buffer' }, (request, body, done) => {
    let parsed: unknown;
    try {
      const buffer = body as Buffer;
      const headerLength = parseHeaderLength(request.headers[INFERENCE_HEADER_LENGTH], buffer.byteLength);
      const { json, binary } = splitBinaryBody(buffer, headerLength);
      let jsonError: Error | null = null;
      // Fastify's own JSON parser (synchronous), so the header gets the same checks as a JSON body.
      parseJson(request, json, (error, header: unknown) => {
        jsonError = error;
        parsed = header;
      });
      if (jsonError) throw jsonError;
      const inputs = (parsed as { inputs?: unknown } | null)?.inputs;
      const decoded = decodeBinaryTensors(inputs, binary, 'Input');
      if (decoded.size > 0) {
        for (const index of decoded.keys()) (inputs as { data?: unknown }[])[index]!.data = [];
        binaryInputs.set(parsed as object, decoded);
      }
    } catch (error) {
      done(error as Error);
      return;
    }
    done(null, parsed);
  });
}

/**
 * onRequest of the infer routes. Triton's clients do not all say what they send: tritonclient's
 * binary requests carry Inference-Header-Content-Length and no Content-Type (or a JSON one), and
 * its JSON ones none at all. The header decides, as it does in Triton: with it the body is binary;
 * without it and without a Content-Type it is JSON.
 */
export function routeBinaryRequests(request: FastifyRequest, _reply: FastifyReply, done: () => void): void {
  const headers = request.raw.headers;
  if (headers[INFERENCE_HEADER_LENGTH] !== undefined) headers['content-type'] = BINARY_CONTENT_TYPE;
  else if (headers['content-type'] === undefined) headers['content-type'] = 'application/json';
  done();
}

/** The validated request with its binary inputs' typed arrays in place (once per request body). */
export function withBinaryInputs(body: V2InferRequest): V2InferRequest {
  const decoded = binaryInputs.get(body);
  if (!decoded) return body;
  binaryInputs.delete(body);
  for (const [index, data] of decoded) {
    const input = body.inputs[index];
    // The inputs are the parser's (validation does not reorder them); `data` holds a typed array from here on.
    if (input) input.data = withJsonForm(data, input.datatype) as unknown as unknown[];
  }
  return body;
}

/**
 * Sends the response as the request asked: binary outputs as JSON header + bytes with
 * Inference-Header-Content-Length and application/octet-stream (as Triton answers), else JSON.
 */
export function replyInOutputForm(
  reply: FastifyReply,
  response: V2InferResponse,
  binary: (name: string) => boolean,
): V2InferResponse | Buffer {
  let encoded: ReturnType<typeof encodeBinaryResponse>;
  try {
    encoded = encodeBinaryResponse(response, binary);
  } catch (error) {
    // The model answered values its own datatype cannot carry: that is the server's fault, not the request's.
    if (error instanceof MlInputError) throw new Error(`could not encode the response as binary: ${error.message}`);
    throw error;
  }
  if (!encoded) return response;
  reply.header('content-type', BINARY_CONTENT_TYPE);
  reply.header('Inference-Header-Content-Length', String(encoded.headerLength));
  return encoded.body;
}
