import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify from 'fastify';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { V2InferRequest, V2InferResponse } from '../contracts/open-inference.js';
import { DeployedModels } from '../agent/runtime/deployed-models.js';
import { loadVersion } from '../agent/runtime/load-version.js';
import { signedDeployment, testSigningKey } from '../agent/test-support/signed-deployment.js';
import { trainedBundle } from '../agent/test-support/trained-bundle.js';
import { VERSION } from '../version.js';
import { decodeBinaryResponse, encodeBinaryRequest } from './v2-binary.js';
import type { InferenceCall } from './inference-call.js';
import type { V2ModelSource } from './v2-model-source.js';
import { v2Routes } from './v2-routes.js';

/** What a V2 client gets back over HTTP: status, headers and the raw body. */
async function post(url: string, body: string | Buffer, headers: Record<string, string>) {
  const response = await request(url, { method: 'POST', body, headers });
  return { status: response.statusCode, headers: response.headers, body: Buffer.from(await response.body.arrayBuffer()) };
}

/** The forecaster's request: a week of float32-exact values (binary FP32 loses nothing) and an hour. */
const REQUEST: V2InferRequest = {
  id: 'r1',
  inputs: [
    { name: 'history', shape: [1, 168], datatype: 'FP32', data: Array.from({ length: 168 }, (_, i) => 30_000 + (i % 24) * 512.5) },
    { name: 'start_time', shape: [1], datatype: 'INT64', data: [1_700_000_000] },
  ],
};

describe('binary tensor data on a loopback agent server (the real forecaster)', { timeout: 60_000 }, () => {
  const models = new DeployedModels({ batching: { maxBatchSize: 8, maxDelayMs: 0 } });
  const app = Fastify().withTypeProvider<TypeBoxTypeProvider>();
  let url: string;

  beforeAll(async () => {
    const bytes = await trainedBundle();
    await models.put('energy', await loadVersion(bytes, signedDeployment(testSigningKey(), bytes, 1)));
    await app.register(v2Routes(models, 'public'));
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(async () => {
    await app.close();
    await models.close();
  });

  it('answers a binary request with binary outputs carrying the same numbers as the JSON answer', async () => {
    const json = await post(`${url}/v2/models/energy/infer`, JSON.stringify(REQUEST), { 'content-type': 'application/json' });
    expect(json.status).toBe(200);
    expect(json.headers['inference-header-content-length']).toBeUndefined();
    const expected = JSON.parse(json.body.toString()) as V2InferResponse;

    // As tritonclient sends it: the header length, and no Content-Type at all.
    const { body, headerLength } = encodeBinaryRequest(REQUEST, { binaryOutputs: true });
    const binary = await post(`${url}/v2/models/energy/infer`, body, { 'inference-header-content-length': String(headerLength) });
    expect(binary.status).toBe(200);
    expect(binary.headers['content-type']).toBe('application/octet-stream');
    const decoded = decodeBinaryResponse(binary.body, Number(binary.headers['inference-header-content-length']));
    expect(decoded.id).toBe('r1');
    expect(decoded.model_version).toBe(expected.model_version);
    expect(decoded.outputs.map((o) => o.name)).toEqual(expected.outputs.map((o) => o.name));
    for (const [i, output] of decoded.outputs.entries()) {
      const want = expected.outputs[i]!;
      expect(output.parameters?.['binary_data_size']).toBeGreaterThan(0);
      expect(output.shape).toEqual(want.shape);
      expect(Array.from(output.data as ArrayLike<number>)).toEqual((want.data as unknown[]).flat(16));
    }
  });

  it('answers a binary request in JSON unless it asks for binary outputs, and a JSON request in binary when it does', async () => {
    const { body, headerLength } = encodeBinaryRequest(REQUEST, { binaryOutputs: false });
    const jsonAnswer = await post(`${url}/v2/models/energy/infer`, body, {
      'content-type': 'application/octet-stream',
      'inference-header-content-length': String(headerLength),
    });
    expect(jsonAnswer.status).toBe(200);
    expect(jsonAnswer.headers['inference-header-content-length']).toBeUndefined();
    const fromBinary = JSON.parse(jsonAnswer.body.toString()) as V2InferResponse;

    const asked = { ...REQUEST, outputs: [{ name: fromBinary.outputs[0]!.name, parameters: { binary_data: true } }] };
    const binaryAnswer = await post(`${url}/v2/models/energy/infer`, JSON.stringify(asked), { 'content-type': 'application/json' });
    expect(binaryAnswer.headers['content-type']).toBe('application/octet-stream');
    const decoded = decodeBinaryResponse(binaryAnswer.body, Number(binaryAnswer.headers['inference-header-content-length']));
    expect(Array.from(decoded.outputs[0]!.data as Float32Array)).toEqual((fromBinary.outputs[0]!.data as unknown[]).flat(16));
  });

  it('refuses binary bodies that do not add up with a 400 in the V2 error shape, naming what was expected', async () => {
    const { body, headerLength } = encodeBinaryRequest(REQUEST, { binaryOutputs: true });
    const refused = async (payload: Buffer, headers: Record<string, string>) => {
      const answer = await post(`${url}/v2/models/energy/infer`, payload, headers);
      expect(answer.status).toBe(400);
      const parsed = JSON.parse(answer.body.toString()) as Record<string, unknown>;
      expect(Object.keys(parsed)).toEqual(['error']);
      return parsed['error'];
    };
    const octet = { 'content-type': 'application/octet-stream' };
    expect(await refused(body, { ...octet, 'inference-header-content-length': String(body.length + 1) })).toMatch(
      /says the JSON takes \d+ bytes, but the whole body has \d+/,
    );
    expect(await refused(body, { ...octet, 'inference-header-content-length': '-5' })).toMatch(/non-negative whole number/);
    expect(await refused(body, octet)).toMatch(/needs the Inference-Header-Content-Length header/);
    expect(await refused(body.subarray(0, body.length - 4), { 'inference-header-content-length': String(headerLength) })).toMatch(
      /binary_data_size add up to/,
    );
    const header = JSON.parse(body.subarray(0, headerLength).toString()) as V2InferRequest;
    header.inputs[0]!.parameters = { binary_data_size: 600 };
    const wrong = Buffer.from(JSON.stringify(header));
    expect(
      await refused(Buffer.concat([wrong, body.subarray(headerLength)]), { 'inference-header-content-length': String(wrong.length) }),
    ).toBe('Input "history" (FP32, shape [1,168]) needs binary_data_size 672 (168 value(s) × 4 byte(s)); it says 600.');
    expect(await refused(Buffer.from('{"inputs": [garbage'), { 'inference-header-content-length': '19' })).toMatch(/JSON/);
    // The decoded request goes through the same checks as JSON: the model wants FP32 history.
    const asInt = encodeBinaryRequest(
      { inputs: [{ ...REQUEST.inputs[0]!, datatype: 'INT32' }, REQUEST.inputs[1]!] },
      { binaryOutputs: false },
    );
    expect(await refused(asInt.body, { 'inference-header-content-length': String(asInt.headerLength) })).toMatch(
      /Input "history" must have datatype FP32, not INT32/,
    );
  });

  it('answers GET /v2 with the server metadata, publicly', async () => {
    const answer = await request(`${url}/v2`);
    expect(answer.statusCode).toBe(200);
    expect(await answer.body.json()).toEqual({ name: 'fogline', version: VERSION, extensions: ['binary_tensor_data'] });
  });
});

describe('binary tensor data through the routes to a model source', () => {
  /** A source that keeps what it was asked and answers each input back as an FP32 output. */
  const seen: InferenceCall[] = [];
  const echo: V2ModelSource = {
    ready: async () => true,
    metadata: async () => ({ name: 'echo', platform: 'test', inputs: [], outputs: [] }),
    modelReady: async () => {},
    infer: async (call) => {
      seen.push(call);
      return {
        modelName: call.name,
        modelVersion: '1',
        outputs: call.inputs.map((i) => ({
          name: i.name,
          shape: i.shape,
          datatype: 'FP32',
          data: Array.from(i.data as ArrayLike<number>, Number),
        })),
      };
    },
  };
  // The control plane's validator settings (src/control-plane/app.ts): binary inputs must pass them too.
  const app = Fastify({
    bodyLimit: 4096,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  beforeAll(async () => {
    await app.register(v2Routes(echo, 'public'));
    await app.ready();
  });
  afterAll(() => app.close());

  const inject = (body: Buffer, headerLength: number) =>
    app.inject({
      method: 'POST',
      url: '/v2/models/echo/infer',
      payload: body,
      headers: { 'inference-header-content-length': String(headerLength) },
    });

  it('hands the source typed arrays, which it sends on as V2 JSON (an agent offloading to the cloud)', async () => {
    const { body, headerLength } = encodeBinaryRequest(
      {
        inputs: [
          { name: 'x', shape: [2], datatype: 'FP16', data: [0.5, -2] },
          { name: 'n', shape: [2], datatype: 'INT64', data: [1, 2] },
          { name: 'b', shape: [2], datatype: 'BOOL', data: [true, false] },
        ],
      },
      { binaryOutputs: false },
    );
    const answer = await inject(body, headerLength);
    expect(answer.statusCode).toBe(200);
    const received = seen.at(-1)!;
    expect(received.inputs.map((i) => (i.data as unknown as object).constructor.name)).toEqual([
      'Float32Array',
      'BigInt64Array',
      'Uint8Array',
    ]);
    expect(JSON.parse(JSON.stringify({ inputs: received.inputs })).inputs.map((i: { data: unknown }) => i.data)).toEqual([
      [0.5, -2],
      [1, 2],
      [true, false],
    ]);
    expect(answer.json<V2InferResponse>().outputs.map((o) => o.data)).toEqual([
      [0.5, -2],
      [1, 2],
      [1, 0],
    ]);
  });

  it('keeps binary bodies within the app body limit', async () => {
    const { body, headerLength } = encodeBinaryRequest(
      { inputs: [{ name: 'x', shape: [2000], datatype: 'FP32', data: new Float32Array(2000) }] },
      { binaryOutputs: false },
    );
    const answer = await inject(body, headerLength);
    expect(answer.statusCode).toBe(413);
    expect(Object.keys(answer.json())).toEqual(['error']);
  });
});
