import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { DeployedModels } from '../agent/runtime/deployed-models.js';
import { loadVersion } from '../agent/runtime/load-version.js';
import { warmUpInputs } from './warm-up-inputs.js';
import { signedDeployment, testSigningKey } from '../agent/test-support/signed-deployment.js';
import { trainedBundle } from '../agent/test-support/trained-bundle.js';
import { v2Routes } from './v2-routes.js';
import { STREAM_MAX_IN_FLIGHT, v2StreamRoutes } from './v2-stream.js';

/** A socket whose messages can be awaited one by one, in order. */
async function connect(url: string) {
  const socket = new WebSocket(url);
  const received: unknown[] = [];
  const waiters: (() => void)[] = [];
  socket.on('message', (data) => {
    received.push(JSON.parse(data.toString()));
    waiters.splice(0).forEach((wake) => wake());
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const next = async (count: number): Promise<unknown[]> => {
    while (received.length < count) await new Promise<void>((resolve) => waiters.push(resolve));
    return received.splice(0, count);
  };
  return { socket, next };
}

describe('WebSocket streaming inference on a loopback agent server', { timeout: 60_000 }, () => {
  // The agent's serving wiring: its DeployedModels behind the V2 routes and the stream, on a real port.
  const models = new DeployedModels({ batching: { maxBatchSize: 8, maxDelayMs: 0 } });
  const app = Fastify().withTypeProvider<TypeBoxTypeProvider>();
  let base: string;
  let inputs: ReturnType<typeof warmUpInputs>;

  beforeAll(async () => {
    const bytes = await trainedBundle();
    const loaded = await loadVersion(bytes, signedDeployment(testSigningKey(), bytes, 1));
    inputs = warmUpInputs(loaded.predictor.signature);
    await models.put('energy', loaded);
    await app.register(v2Routes(models, 'public'));
    await app.register(v2StreamRoutes(models, 'public'));
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    base = `ws://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(async () => {
    await app.close();
    await models.close();
  });

  it('answers every request in order on the same socket, with the same answer as POST /infer', async () => {
    const { socket, next } = await connect(`${base}/v2/models/energy/stream`);
    for (let i = 0; i < 40; i++) socket.send(JSON.stringify({ id: `r${i}`, inputs }));
    const answers = (await next(40)) as { id: string; model_version: string; outputs: unknown[] }[];
    expect(answers.map((a) => a.id)).toEqual(Array.from({ length: 40 }, (_, i) => `r${i}`));
    const posted = await app.inject({ method: 'POST', url: '/v2/models/energy/infer', payload: { inputs } });
    expect(answers[0]!.outputs).toEqual(posted.json().outputs);
    expect(answers.every((a) => a.model_version === '1')).toBe(true);
    socket.close();
  });

  it('answers a bad message with an error carrying its id, and keeps the socket open', async () => {
    const { socket, next } = await connect(`${base}/v2/models/energy/versions/1/stream`);
    socket.send('not json');
    socket.send(JSON.stringify({ id: 'no-inputs' }));
    socket.send(JSON.stringify({ id: 'bad-shape', inputs: [{ name: 'history', shape: [1, 2], datatype: 'FP32', data: [1, 2] }] }));
    socket.send(Buffer.from([1, 2, 3]), { binary: true });
    socket.send(JSON.stringify({ id: 'ok', inputs }));
    const [notJson, noInputs, badShape, binary, ok] = (await next(5)) as Record<string, unknown>[];
    expect(notJson).toEqual({ error: expect.stringContaining('not valid JSON'), status: 400 });
    expect(noInputs).toEqual({ id: 'no-inputs', error: expect.stringContaining('not a V2 infer request'), status: 400 });
    expect(badShape).toMatchObject({ id: 'bad-shape', status: 400 });
    expect(binary).toMatchObject({ status: 400 });
    expect(ok).toMatchObject({ id: 'ok', model_name: 'energy', model_version: '1' });
    expect(socket.readyState).toBe(WebSocket.OPEN);
    socket.close();
  });

  it('answers unknown models and versions per message with 404, as /infer does', async () => {
    const { socket, next } = await connect(`${base}/v2/models/other/stream`);
    socket.send(JSON.stringify({ id: 'x', inputs }));
    expect(await next(1)).toEqual([{ id: 'x', error: expect.stringContaining('other'), status: 404 }]);
    socket.close();
    const pinned = await connect(`${base}/v2/models/energy/versions/9/stream`);
    pinned.socket.send(JSON.stringify({ inputs }));
    expect(await pinned.next(1)).toEqual([{ error: expect.stringContaining('version 1, not 9'), status: 404 }]);
    pinned.socket.close();
  });

  it('keeps a fast sender to a bounded number of requests in flight, and still answers all of them', async () => {
    let running = 0;
    let most = 0;
    const infer = models.infer.bind(models);
    models.infer = async (...args) => {
      running += 1;
      most = Math.max(most, running);
      try {
        await new Promise((resolve) => setTimeout(resolve, 2));
        return await infer(...args);
      } finally {
        running -= 1;
      }
    };
    try {
      const { socket, next } = await connect(`${base}/v2/models/energy/stream`);
      const count = STREAM_MAX_IN_FLIGHT * 6;
      for (let i = 0; i < count; i++) socket.send(JSON.stringify({ id: String(i), inputs }));
      const answers = (await next(count)) as { id: string }[];
      expect(answers.map((a) => Number(a.id))).toEqual(Array.from({ length: count }, (_, i) => i));
      expect(most).toBeLessThanOrEqual(STREAM_MAX_IN_FLIGHT + 1);
      socket.close();
    } finally {
      models.infer = infer;
    }
  });
});
