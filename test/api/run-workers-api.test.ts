import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClaimedRun, RunClaim, RunCompletion, RunView } from '../../src/contracts/runs.js';
import type { ModelVersionList } from '../../src/contracts/models.js';
import { startTestControlPlane, type TestControlPlane } from '../support/control-plane.js';
import { assertRedisReachable, PrivateRedis, testChannel, testRedisUrl } from '../support/redis.js';

const OUTCOME: Omit<RunCompletion, 'bundleBase64'> = {
  kind: 'forecaster',
  ioSignature: {
    inputs: [{ name: 'history', datatype: 'FP32', shape: [-1, 168] }],
    outputs: [{ name: 'forecast', datatype: 'FP32', shape: [-1, 24] }],
  },
  metrics: { mape: 4.2 },
  gate: { passed: true, metric: 'mape', model: 4.2, baseline: 7.3, baselineName: 'seasonal-naive-day', rule: 'beat-baseline' },
  params: { epochs: 1 },
  codeVersion: '0.1.0-test',
};

/**
 * The API `fogline worker` speaks, driven by the test as the worker: this control plane trains
 * nothing itself (--run-concurrency 0), its runs wait on Redis.
 */
describe('the worker API: claims, reports and the register step', () => {
  let cp: TestControlPlane;
  let model = 0;

  beforeAll(async () => {
    await assertRedisReachable();
    cp = await startTestControlPlane(
      { redis: testRedisUrl(), redisChannel: testChannel(), runConcurrency: '0', pipelineConcurrency: 'anomaly=1' },
      { runStaleSeconds: 1 },
    );
    await cp.uploadPjme();
  });

  afterAll(async () => {
    await cp?.close();
  });

  const post = (path: string, body?: object) => cp.call('POST', path, { token: cp.adminToken, ...(body ? { body } : {}) });
  const startRun = async (pipeline = 'forecast') => {
    model += 1;
    const params = pipeline === 'forecast' ? { epochs: 1 } : {};
    return (await cp.admin.startRun({ pipeline: pipeline as 'forecast', dataset: 'pjme', params, gate: 'none', model: `m-${model}` })).id;
  };
  const claim = async (id: string, worker: string) => (await post(`/api/v1/runs/${id}/claim`, { worker })).body as RunClaim;
  const get = async (id: string) => (await cp.call('GET', `/api/v1/runs/${id}`, { token: cp.adminToken })).body as RunView;

  it('gives a run to exactly one of two workers claiming at once; the other is told to retry', async () => {
    const id = await startRun();
    const answers = await Promise.all([claim(id, 'w1'), claim(id, 'w2')]);
    expect(answers.map((answer) => answer.outcome).sort()).toEqual(['claimed', 'retry']);
    const claimed = answers.find((answer) => answer.outcome === 'claimed') as ClaimedRun;
    expect(claimed).toMatchObject({ attempt: 1, pipeline: 'forecast', dataset: { name: 'pjme', version: 1 } });
    expect(claimed.dataset.sha256).toMatch(/^[0-9a-f]{64}$/);
    const view = await get(id);
    expect(view).toMatchObject({ status: 'running', attempt: 1 });
    expect(['w1', 'w2']).toContain(view.worker);
  });

  it('refuses the reports of a worker whose run was taken over, and they change nothing', async () => {
    const id = await startRun();
    expect(await claim(id, 'lost')).toMatchObject({ outcome: 'claimed', attempt: 1 });
    // Still reporting: nobody may take it over.
    expect((await post(`/api/v1/runs/${id}/attempts/1/reports`, { type: 'ping' })).body).toEqual({ canceled: false });
    expect(await claim(id, 'next')).toMatchObject({ outcome: 'retry', reason: 'lost still reports on it' });
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(await claim(id, 'next')).toMatchObject({ outcome: 'claimed', attempt: 2 });
    const stale = await post(`/api/v1/runs/${id}/attempts/1/reports`, { type: 'step', step: 'prepare', status: 'succeeded' });
    expect(stale.status).toBe(409);
    expect(stale.body.code).toBe('FOGLINE_ERR_RUN_ATTEMPT_STALE');
    const view = await get(id);
    expect(view.steps[0]!.status).toBe('pending');
    expect(view).toMatchObject({ status: 'running', attempt: 2, worker: 'next' });
    const failed = await post(`/api/v1/runs/${id}/attempts/1/complete`, { ...OUTCOME, bundleBase64: 'AAAA' });
    expect(failed.status).toBe(409);
    expect(await get(id)).toMatchObject({ status: 'running', registeredVersion: null });
  });

  it('registers one version per run, even when the completion arrives twice', async () => {
    const id = await startRun();
    const { attempt } = (await claim(id, 'w1')) as ClaimedRun;
    const body = { ...OUTCOME, bundleBase64: Buffer.from('a bundle').toString('base64') };
    const first = await post(`/api/v1/runs/${id}/attempts/${attempt}/complete`, body);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ status: 'succeeded', registeredVersion: 1 });
    expect((await post(`/api/v1/runs/${id}/attempts/${attempt}/complete`, body)).status).toBe(409);
    const versions = (await cp.call('GET', `/api/v1/models/m-${model}/versions`, { token: cp.adminToken })).body as ModelVersionList;
    expect(versions.versions.map((v) => [v.version, v.lineage.runId, v.lineage.codeVersion])).toEqual([[1, id, '0.1.0-test']]);
    // A finished run is not handed out again.
    expect(await claim(id, 'w2')).toEqual({ outcome: 'finished', status: 'succeeded' });
  });

  it('tells the worker a run was canceled; a canceled queued run is never handed out', async () => {
    const running = await startRun();
    const { attempt } = (await claim(running, 'w1')) as ClaimedRun;
    expect((await post(`/api/v1/runs/${running}/cancel`)).status).toBe(200);
    expect((await post(`/api/v1/runs/${running}/attempts/${attempt}/reports`, { type: 'ping' })).body).toEqual({ canceled: true });
    await post(`/api/v1/runs/${running}/attempts/${attempt}/reports`, {
      type: 'failed',
      step: 'train',
      message: 'canceled',
      canceled: true,
    });
    expect(await get(running)).toMatchObject({ status: 'canceled', registeredVersion: null });

    const queued = await startRun();
    expect((await post(`/api/v1/runs/${queued}/cancel`)).body).toMatchObject({ status: 'canceled', error: 'canceled before it started' });
    expect(await claim(queued, 'w1')).toEqual({ outcome: 'finished', status: 'canceled' });
  });

  it('holds a pipeline at its --pipeline-concurrency across workers', async () => {
    const first = await startRun('anomaly');
    const second = await startRun('anomaly');
    expect(await claim(first, 'w1')).toMatchObject({ outcome: 'claimed' });
    expect(await claim(second, 'w2')).toMatchObject({
      outcome: 'retry',
      reason: 'the anomaly pipeline runs at most 1 at once (--pipeline-concurrency)',
    });
    const { queue } = (await cp.call('GET', '/api/v1/runs', { token: cp.adminToken })).body;
    expect(queue).toMatchObject({ kind: 'redis' });
  });

  it('refuses malformed reports with 400 and leaves the run as it was', async () => {
    const id = await startRun();
    const { attempt } = (await claim(id, 'w1')) as ClaimedRun;
    const before = await get(id);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.jsonValue(),
          fc.record({ type: fc.constantFrom('step', 'progress', 'log', 'failed'), step: fc.string(), status: fc.string() }),
          fc.record({
            type: fc.constant('progress'),
            step: fc.constant('train'),
            progress: fc.record({ phase: fc.constant('train'), epoch: fc.double() }),
          }),
        ),
        async (body) => {
          const answer = await cp.call('POST', `/api/v1/runs/${id}/attempts/${attempt}/reports`, {
            token: cp.adminToken,
            body: JSON.stringify(body),
            headers: { 'content-type': 'application/json' },
          });
          expect(answer.status).toBe(400);
        },
      ),
      { numRuns: 60 },
    );
    const after = await get(id);
    expect(after.steps).toEqual(before.steps);
    expect(after.status).toBe('running');
  });
});

describe('starting a run while Redis is away', () => {
  it('answers 503 with what to check, and records the run as failed rather than leaving it queued', async () => {
    const redis = await PrivateRedis.create();
    const cp = await startTestControlPlane({ redis: redis.url, redisChannel: testChannel(), runConcurrency: '0' });
    try {
      await cp.uploadPjme();
      await redis.stop();
      const answer = await cp.call('POST', '/api/v1/runs', {
        token: cp.adminToken,
        body: { pipeline: 'forecast', dataset: 'pjme', params: { epochs: 1 } },
      });
      expect(answer.status).toBe(503);
      expect(answer.body.code).toBe('FOGLINE_ERR_WORK_QUEUE_UNAVAILABLE');
      expect(answer.body.message).toMatch(/check Redis \(--redis\), then start it again/);
      const { runs } = (await cp.call('GET', '/api/v1/runs?status=queued', { token: cp.adminToken })).body as { runs: RunView[] };
      expect(runs).toEqual([]);
      const failed = (await cp.call('GET', '/api/v1/runs?status=failed', { token: cp.adminToken })).body.runs as RunView[];
      expect(failed.map((run) => run.error)).toEqual([expect.stringMatching(/^could not be queued/)]);
    } finally {
      await cp.close();
      await redis.close();
    }
  }, 60_000);
});
