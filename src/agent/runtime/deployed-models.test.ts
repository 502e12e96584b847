import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { V2InferRequest } from '../../contracts/open-inference.js';
import type { FoglineError } from '../../errors/fogline-error.js';
import { inferenceCall } from '../../inference/inference-call.js';
import { v2Routes } from '../../inference/v2-routes.js';
import { signedDeployment, testSigningKey } from '../test-support/signed-deployment.js';
import { trainedBundle } from '../test-support/trained-bundle.js';
import { DeployedModels } from './deployed-models.js';
import { loadVersion } from './load-version.js';
import type { ServingObserver } from './serving-observer.js';
import { warmUpInputs } from '../../inference/warm-up-inputs.js';
import type { WorkerPredictor } from '../../inference/worker-predictor.js';

describe('DeployedModels on the V2 routes', { timeout: 60_000 }, () => {
  const models = new DeployedModels();
  const app = Fastify().withTypeProvider<TypeBoxTypeProvider>();
  const key = testSigningKey();
  let bytes: Uint8Array;
  let signature: Parameters<typeof warmUpInputs>[0];
  const infer = (url = '/v2/models/energy/infer') => app.inject({ method: 'POST', url, payload: { inputs: warmUpInputs(signature) } });

  beforeAll(async () => {
    bytes = await trainedBundle();
    const loaded = await loadVersion(bytes, signedDeployment(key, bytes, 1));
    signature = loaded.predictor.signature;
    await models.put('energy', loaded);
    await app.register(v2Routes(models, 'public'));
  });
  afterAll(async () => {
    await app.close();
    await models.close();
  });

  it('serves the deployment by its name, and only its serving version', async () => {
    const answer = await infer();
    expect(answer.statusCode).toBe(200);
    expect(answer.json()).toMatchObject({ model_name: 'energy', model_version: '1', outputs: [{ name: 'forecast', shape: [1, 24] }] });
    expect((await infer('/v2/models/energy/versions/1/infer')).statusCode).toBe(200);
    expect((await infer('/v2/models/energy/versions/2/infer')).statusCode).toBe(404);
    expect((await infer('/v2/models/other/infer')).json()).toEqual({ error: expect.stringContaining('other') });
    expect((await app.inject({ method: 'GET', url: '/v2/models/energy' })).json()).toMatchObject({ name: 'energy', versions: ['1'] });
  });

  it('answers 503 with Retry-After, not 404, for a deployment that is still loading', async () => {
    models.expect(['energy', 'anomaly']);
    const loading = await infer('/v2/models/anomaly/infer');
    expect(loading.statusCode).toBe(503);
    expect(loading.headers['retry-after']).toBe('5');
    expect(loading.json()).toEqual({ error: expect.stringContaining('not serving yet') });
    expect((await infer('/v2/models/other/infer')).statusCode).toBe(404);
    models.expect(['energy']);
    expect((await infer('/v2/models/anomaly/infer')).statusCode).toBe(404);
  });

  it('drops queued requests whose callers have gone instead of computing them, and says so to the observer', async () => {
    const abandoned: string[] = [];
    const counted = new DeployedModels({
      observer: {
        inferred() {},
        loaded() {},
        swapped() {},
        unloaded() {},
        abandoned: (e) => abandoned.push(`${e.deployment}@${e.version}`),
      },
    });
    await counted.put('energy', await loadVersion(bytes, signedDeployment(key, bytes, 1)));
    try {
      const callers = Array.from({ length: 6 }, () => new AbortController());
      // The first starts at once; the other five queue behind it, and their callers leave.
      const answers = callers.map((caller) =>
        counted.infer(inferenceCall('energy', undefined, historyRequest(signature, 30_000), caller.signal)).then(
          (answer) => answer.modelVersion,
          (error: FoglineError) => error.code,
        ),
      );
      for (const caller of callers.slice(1)) caller.abort();
      expect(await Promise.all(answers)).toEqual(['1', ...Array<string>(5).fill('FOGLINE_ERR_REQUEST_ABANDONED')]);
      expect(abandoned).toEqual(Array<string>(5).fill('energy@1'));
      // Dropped requests are neither served nor errors.
      expect(counted.usage('energy')).toMatchObject({ errors: 0 });
    } finally {
      await counted.close();
    }
  });

  it('the infer route aborts its signal when the client closes the connection before the answer', async () => {
    let seen: AbortSignal | undefined;
    const waiting = Fastify().withTypeProvider<TypeBoxTypeProvider>();
    await waiting.register(
      v2Routes(
        {
          ready: async () => true,
          metadata: () => Promise.reject(new Error('not used')),
          modelReady: async () => undefined,
          infer: ({ signal }) => {
            seen = signal;
            return new Promise((_resolve, reject) => signal?.addEventListener('abort', () => reject(new Error('gone'))));
          },
        },
        'public',
      ),
    );
    const address = await waiting.listen({ host: '127.0.0.1', port: 0 });
    try {
      const client = new AbortController();
      const sent = fetch(`${address}/v2/models/energy/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }] }),
        signal: client.signal,
      }).catch(() => undefined);
      await vi.waitFor(() => expect(seen).toBeDefined());
      expect(seen!.aborted).toBe(false);
      client.abort();
      await sent;
      await vi.waitFor(() => expect(seen!.aborted).toBe(true));
    } finally {
      await waiting.close();
    }
  });

  it('hot-swaps to another version under a stream of requests without failing one', async () => {
    let stop = false;
    const statuses: number[] = [];
    const versions = new Set<string>();
    const client = async () => {
      while (!stop) {
        const answer = await infer();
        statuses.push(answer.statusCode);
        if (answer.statusCode === 200) versions.add(answer.json().model_version);
      }
    };
    const loops = [client(), client(), client()];
    await new Promise((resolve) => setTimeout(resolve, 100));
    await models.put('energy', await loadVersion(bytes, signedDeployment(key, bytes, 2)));
    await new Promise((resolve) => setTimeout(resolve, 100));
    stop = true;
    await Promise.all(loops);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect([...versions].sort()).toEqual(['1', '2']);
    expect(models.serving('energy')?.version).toBe(2);
  });
});

/** A request with its own history, so that each answer can be told apart. */
function historyRequest(signature: Parameters<typeof warmUpInputs>[0], level: number): V2InferRequest {
  const inputs = warmUpInputs(signature).map((input) => ({
    name: input.name,
    shape: input.shape,
    datatype: input.datatype ?? 'FP32',
    data: input.name === 'history' ? Array.from(input.data, (_, i) => level + 1000 * Math.sin(i / 4)) : Array.from(input.data),
  }));
  return { inputs };
}

describe('DeployedModels serving runtime: batching, usage, crashes', { timeout: 60_000 }, () => {
  const key = testSigningKey();
  const events: Parameters<ServingObserver['inferred']>[0][] = [];
  const lifecycle: string[] = [];
  const observer: ServingObserver = {
    inferred: (event) => events.push(event),
    loaded: (event) => lifecycle.push(`loaded ${event.version} ${event.ok}`),
    swapped: (event) => lifecycle.push(`swapped ${event.fromVersion}->${event.toVersion}`),
    unloaded: (event) => lifecycle.push(`unloaded ${event.version}`),
    abandoned: (event) => lifecycle.push(`abandoned ${event.version}`),
  };
  // In worker threads here, to cover crashes; the default (in-process) runs in the suite above.
  const models = new DeployedModels({ observer, batching: { maxBatchSize: 4, maxDelayMs: 0 }, load: { isolation: 'worker' } });
  let bytes: Uint8Array;
  let signature: Parameters<typeof warmUpInputs>[0];

  beforeAll(async () => {
    bytes = await trainedBundle();
    const loaded = await models.load(bytes, signedDeployment(key, bytes, 1));
    signature = loaded.predictor.signature;
    await models.put('energy', loaded);
  });
  afterAll(() => models.close());

  it('batches concurrent requests and answers each with its own forecast, as it would alone', async () => {
    events.length = 0;
    const requests = [10_000, 20_000, 30_000, 40_000, 50_000, 60_000].map((level) => historyRequest(signature, level));
    const together = await Promise.all(requests.map((request) => models.infer(inferenceCall('energy', undefined, request))));
    const alone: unknown[] = [];
    for (const request of requests) alone.push(await models.infer(inferenceCall('energy', undefined, request)));
    expect(together).toEqual(alone);
    expect(new Set(together.map((answer) => JSON.stringify(answer.outputs))).size).toBe(requests.length);
    expect(Math.max(...events.map((e) => e.batchSize))).toBeGreaterThan(1);
    expect(Math.max(...events.map((e) => e.batchSize))).toBeLessThanOrEqual(4);
    expect(events.every((e) => e.ok && e.deployment === 'energy' && e.model === 'energy' && e.version === 1)).toBe(true);
  });

  it('a bad request in a batch fails alone with a 400-class error, and is not a server error in usage', async () => {
    const before = models.usage('energy')!;
    const bad: V2InferRequest = {
      inputs: [{ name: 'history', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }, historyRequest(signature, 0).inputs[1]!],
    };
    const answers = await Promise.allSettled([
      models.infer(inferenceCall('energy', undefined, historyRequest(signature, 1))),
      models.infer(inferenceCall('energy', undefined, bad)),
      models.infer(inferenceCall('energy', undefined, historyRequest(signature, 2))),
    ]);
    expect(answers.map((a) => a.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(((answers[1] as PromiseRejectedResult).reason as Error).name).toBe('MlInputError');
    expect(models.usage('energy')).toMatchObject({ version: 1, requests: before.requests + 3, errors: before.errors });
  });

  it('a crashed worker fails the requests in it with a 503, counts them as errors, and comes back', async () => {
    const predictor = (models as unknown as { slots: Map<string, { predictor: WorkerPredictor }> }).slots.get('energy')!.predictor;
    const before = models.usage('energy')!;
    const inFlight = Array.from({ length: 8 }, (_, i) => models.infer(inferenceCall('energy', undefined, historyRequest(signature, i))));
    await predictor.crashForTest();
    const settled = await Promise.allSettled(inFlight);
    const failed = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
    expect(failed.length).toBeGreaterThan(0);
    for (const failure of failed) expect(failure.reason).toMatchObject({ code: 'FOGLINE_ERR_MODEL_CRASHED', status: 503 });
    const after = models.usage('energy')!;
    expect(after.requests).toBe(before.requests + 8);
    expect(after.errors).toBe(before.errors + failed.length);
    // The worker restarts from the same bundle; requests meanwhile wait for it rather than fail.
    const answer = await models.infer(inferenceCall('energy', undefined, historyRequest(signature, 5)));
    expect(answer.modelVersion).toBe('1');
  });

  it('counts per serving version: a new version starts from zero, and usage is undefined for unknown names', async () => {
    expect(models.usage('other')).toBeUndefined();
    await models.put('energy', await models.load(bytes, signedDeployment(key, bytes, 2)));
    expect(models.usage('energy')).toEqual({ version: 2, requests: 0, errors: 0 });
    await models.infer(inferenceCall('energy', undefined, historyRequest(signature, 1)));
    await expect(models.infer(inferenceCall('energy', '1', historyRequest(signature, 1)))).rejects.toMatchObject({ status: 404 });
    const usage = models.usage('energy')!;
    expect(usage).toMatchObject({ version: 2, requests: 1, errors: 0 });
    // Latency of what was answered: one request, so p50 and p99 are its time.
    expect(usage.latencyP50Ms).toBeGreaterThan(0);
    expect(usage.latencyP99Ms).toBe(usage.latencyP50Ms);
    expect(lifecycle).toEqual(['loaded 1 true', 'loaded 2 true', 'swapped 1->2', 'unloaded 1']);
  });

  it('reports a version that fails to load, and leaves the serving one alone', async () => {
    await expect(models.load(new Uint8Array([1, 2, 3]), signedDeployment(key, bytes, 3))).rejects.toThrow();
    expect(lifecycle.at(-1)).toBe('loaded 3 false');
    expect(models.serving('energy')?.version).toBe(2);
  });
});
