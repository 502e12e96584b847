import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { DesiredDeployment } from '../../contracts/deployments.js';
import type { V2InferRequest } from '../../contracts/open-inference.js';
import { FoglineError } from '../../errors/fogline-error.js';
import { type InferenceCall, inferenceCall, type InferenceResult, toV2Response } from '../../inference/inference-call.js';
import type { DeployedModels } from '../runtime/deployed-models.js';
import type { DeploymentOffload } from './offload-settings.js';
import type { SlotQueue } from '../runtime/model-slot.js';
import { type OffloadEvent, OffloadingModels } from './offloading-models.js';

const REQUEST: V2InferRequest = { id: 'r1', inputs: [{ name: 'x', shape: [1, 1], datatype: 'FP32', data: [1] }] };
const CALM = { cpuLoadPerCore: 0, memoryFreeBytes: 8e9, memoryTotalBytes: 16e9, eventLoopUtilization: 0.1, windowMs: 0, loopDelayMs: 0 };

/** A node's models as OffloadingModels sees them: a policy, a queue and a local answer (or failure). */
function fakeModels(state: {
  offload?: DeploymentOffload;
  queue?: SlotQueue & { version: number };
  local?: () => Promise<InferenceResult>;
}): DeployedModels & { localCalls: number } {
  const fake = {
    localCalls: 0,
    offload: () => state.offload,
    serving: () => undefined,
    // As the micro-batcher: an idle slot that has run nothing yet knows no time per batch.
    queue: () =>
      state.queue && !state.queue.busy && state.queue.waiting === 0 && fake.localCalls === 0
        ? { ...state.queue, batchMs: undefined }
        : state.queue,
    ready: async () => true,
    metadata: async () => ({ name: 'energy', platform: 'x', inputs: [], outputs: [] }),
    modelReady: async () => undefined,
    infer: async (call: InferenceCall) => {
      fake.localCalls += 1;
      if (state.local) return state.local();
      return { modelName: call.name, modelVersion: '3', outputs: [{ name: 'y', shape: [1, 1], datatype: 'FP32', data: [0] }] };
    },
  };
  return fake as unknown as DeployedModels & { localCalls: number };
}

/** A stand-in for the control plane's /v2: answers with `status`, records what it got. */
async function fakeCloud(status = 200): Promise<{ url: string; seen: { path: string; auth: string }[]; close(): Promise<void> }> {
  const seen: { path: string; auth: string }[] = [];
  const server = http.createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      seen.push({ path: request.url ?? '', auth: request.headers.authorization ?? '' });
      const parsed = JSON.parse(body) as V2InferRequest;
      response.writeHead(status, { 'content-type': 'application/json', 'fogline-queue-ms': '30.0' });
      response.end(
        JSON.stringify(
          status === 200
            ? {
                model_name: 'energy-model',
                model_version: '3',
                id: parsed.id,
                outputs: [{ name: 'y', shape: [1, 1], datatype: 'FP32', data: [9] }],
              }
            : { error: 'boom' },
        ),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, seen, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

const QUEUE = { version: 3, waiting: 0, busy: false, batchMs: 1, maxBatchSize: 1 };
const offload = (policy: DeploymentOffload['policy']): DeploymentOffload => ({
  policy,
  latencyTargetMs: 50,
  inferPath: '/v2/models/energy-model/versions/3/infer',
});

describe('OffloadingModels', () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });

  function offloader(models: DeployedModels, server: string, events: OffloadEvent[]): OffloadingModels {
    const routed = new OffloadingModels(models, { observer: { routed: (e) => events.push(e) }, pressure: () => CALM, cloudTimeoutMs: 500 });
    routed.connect({ server, credential: 'fgl.node.secret', nodeName: 'edge-1' });
    // The deployment sync hands offloading its settings; the fake carries them.
    const settings = (models as unknown as { offload(): DeploymentOffload | undefined }).offload();
    if (settings) routed.settings.configure({ name: 'energy', offload: settings } as DesiredDeployment);
    return routed;
  }

  it('cloud-only: the cloud answers the same version with the node credential, and the answer says so', async () => {
    const cloud = await fakeCloud();
    closers.push(cloud.close);
    const models = fakeModels({ offload: offload('cloud-only'), queue: QUEUE });
    const events: OffloadEvent[] = [];
    const answer = await offloader(models, cloud.url, events).infer(inferenceCall('energy', undefined, REQUEST));
    expect(toV2Response(answer, REQUEST.id)).toMatchObject({
      model_name: 'energy',
      model_version: '3',
      id: 'r1',
      outputs: [{ data: [9] }],
      parameters: { 'fogline.ran_on': 'cloud', 'fogline.node': 'edge-1', 'fogline.offload_reason': 'cloud-only' },
    });
    expect(cloud.seen).toEqual([{ path: '/v2/models/energy-model/versions/3/infer', auth: 'Bearer fgl.node.secret' }]);
    expect(models.localCalls).toBe(0);
    expect(events).toEqual([{ deployment: 'energy', outcome: 'offloaded', reason: 'cloud-only' }]);
  });

  it('cloud-only: with the cloud down every request runs on the node, and the breaker stops trying after 3 failures', async () => {
    const cloud = await fakeCloud();
    await cloud.close(); // nothing listens there now
    const models = fakeModels({ offload: offload('cloud-only'), queue: QUEUE });
    const events: OffloadEvent[] = [];
    const routed = offloader(models, cloud.url, events);
    for (let i = 0; i < 6; i++) {
      const answer = await routed.infer(inferenceCall('energy', undefined, REQUEST));
      expect(answer.ranOn).toBe('edge');
    }
    expect(models.localCalls).toBe(6);
    expect(routed.breakerState()).toBe('open');
    // Fallbacks ran on the node: the status report counts them as local.
    expect(routed.ranWhere('energy')).toEqual({ local: 6, offloaded: 0 });
    expect(events.map((e) => `${e.outcome}:${e.reason}`)).toEqual([
      ...Array<string>(3).fill('fallback:cloud-error'),
      ...Array<string>(3).fill('fallback:cloud-only'),
    ]);
  });

  it('a cloud that answers 500 is a fallback to the node, not a failed request', async () => {
    const cloud = await fakeCloud(500);
    closers.push(cloud.close);
    const models = fakeModels({ offload: offload('cloud-only'), queue: QUEUE });
    const answer = await offloader(models, cloud.url, []).infer(inferenceCall('energy', undefined, REQUEST));
    expect(answer.ranOn).toBe('edge');
    expect(cloud.seen).toHaveLength(1);
  });

  it('edge-only never calls the cloud; auto calls it only when the queue is past the target', async () => {
    const cloud = await fakeCloud();
    closers.push(cloud.close);
    const events: OffloadEvent[] = [];
    const edge = fakeModels({ offload: offload('edge-only'), queue: { ...QUEUE, waiting: 1000, busy: true, batchMs: 100 } });
    expect((await offloader(edge, cloud.url, events).infer(inferenceCall('energy', undefined, REQUEST))).ranOn).toBe('edge');
    const calm = fakeModels({ offload: offload('auto'), queue: QUEUE });
    expect((await offloader(calm, cloud.url, events).infer(inferenceCall('energy', undefined, REQUEST))).ranOn).toBe('edge');
    const busy = fakeModels({ offload: offload('auto'), queue: { ...QUEUE, waiting: 10, busy: true, batchMs: 10 } });
    expect((await offloader(busy, cloud.url, events).infer(inferenceCall('energy', undefined, REQUEST))).ranOn).toBe('cloud');
    expect(cloud.seen).toHaveLength(1);
    expect(events.map((e) => `${e.outcome}:${e.reason}`)).toEqual(['local:edge-only', 'local:within-target', 'offloaded:queue']);
  });

  it('auto: once the node has spent its compute budget, requests in time on the node still go to the cloud', async () => {
    const cloud = await fakeCloud();
    closers.push(cloud.close);
    // A generous target: the cloud's first answers (a new connection) must not count as late here.
    const models = fakeModels({ offload: { ...offload('auto'), latencyTargetMs: 5000 }, queue: { ...QUEUE, batchMs: 10 } });
    const events: OffloadEvent[] = [];
    // A budget of 0.1% of the loop: one request per 10 s at 10 ms each.
    const routed = new OffloadingModels(models, {
      observer: { routed: (e) => events.push(e) },
      pressure: () => CALM,
      budget: { maxUtilization: 0.001 },
    });
    routed.connect({ server: cloud.url, credential: 'fgl.node.secret', nodeName: 'edge-1' });
    routed.settings.configure({ name: 'energy', offload: { ...offload('auto'), latencyTargetMs: 5000 } } as DesiredDeployment);
    const reasons: unknown[] = [];
    for (let i = 0; i < 3; i++) reasons.push((await routed.infer(inferenceCall('energy', undefined, REQUEST))).reason);
    expect(reasons).toEqual(['within-target', 'busy', 'busy']);
    expect(models.localCalls).toBe(1);
    expect(events.map((e) => `${e.outcome}:${e.reason}`)).toEqual(['local:within-target', 'offloaded:busy', 'offloaded:busy']);
    expect(routed.estimates()).toEqual([
      expect.objectContaining({ deployment: 'energy', edgeExpectedMs: 10, cloud: expect.objectContaining({ inFlight: 0, limit: 8 }) }),
    ]);
    // The cloud's reported queue (its fogline-queue-ms header) is part of what auto expects there, fading over a second.
    const cloudState = routed.estimates()[0]!.cloud;
    expect(cloudState.reportedQueueMs).toBeGreaterThan(15);
    expect(cloudState.reportedQueueMs).toBeLessThanOrEqual(30);
    expect(cloudState.expectedMs).toBeGreaterThanOrEqual(cloudState.reportedQueueMs);
  });

  it('auto: with the cloud down and the node past its target, the node answers until the breaker opens, then the excess is shed with 429', async () => {
    // A port nothing listens on: the cloud cannot be reached.
    const closed = await fakeCloud();
    await closed.close();
    const models = fakeModels({ offload: offload('auto'), queue: { ...QUEUE, waiting: 9, busy: true, batchMs: 10 } });
    const events: OffloadEvent[] = [];
    const routed = offloader(models, closed.url, events);
    for (let i = 0; i < 3; i++) {
      const answer = await routed.infer(inferenceCall('energy', undefined, REQUEST));
      expect(answer).toMatchObject({ ranOn: 'edge', reason: 'cloud-error' });
    }
    expect(routed.breakerState()).toBe('open');
    const shed = await routed.infer(inferenceCall('energy', undefined, REQUEST)).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(shed).toBeInstanceOf(FoglineError);
    expect(shed).toMatchObject({ code: 'FOGLINE_ERR_OVERLOADED', status: 429, details: { retryAfterSeconds: 1 } });
    expect(String((shed as Error).message)).toMatch(/overloaded.*retry after 1 s/);
    expect(models.localCalls).toBe(3);
    expect(events.map((e) => e.outcome)).toEqual(['fallback', 'fallback', 'fallback', 'shed']);
  });

  it('auto with overload mode queue: past the target and the cloud down, the node takes the request instead of shedding', async () => {
    const closed = await fakeCloud();
    await closed.close();
    const models = fakeModels({ offload: offload('auto'), queue: { ...QUEUE, waiting: 9, busy: true, batchMs: 10 } });
    const routed = new OffloadingModels(models, { pressure: () => CALM, overload: 'queue', cloudTimeoutMs: 500 });
    routed.connect({ server: closed.url, credential: 'fgl.node.secret', nodeName: 'edge-1' });
    routed.settings.configure({ name: 'energy', offload: offload('auto') } as DesiredDeployment);
    for (let i = 0; i < 5; i++) expect((await routed.infer(inferenceCall('energy', undefined, REQUEST))).ranOn).toBe('edge');
    expect(routed.breakerState()).toBe('open');
    expect(models.localCalls).toBe(5);
  });

  it('auto: a request the node fails on its side (crashed worker) is answered by the cloud, and the next ones go there too', async () => {
    const cloud = await fakeCloud();
    closers.push(cloud.close);
    const models = fakeModels({
      offload: offload('auto'),
      queue: QUEUE,
      local: () => Promise.reject(new FoglineError('FOGLINE_ERR_MODEL_CRASHED', 'worker died')),
    });
    const events: OffloadEvent[] = [];
    const routed = offloader(models, cloud.url, events);
    expect((await routed.infer(inferenceCall('energy', undefined, REQUEST))).ranOn).toBe('cloud');
    expect((await routed.infer(inferenceCall('energy', undefined, REQUEST))).ranOn).toBe('cloud');
    expect(routed.ranWhere('energy')?.offloaded).toBeGreaterThanOrEqual(2);
    expect(models.localCalls).toBe(1);
    expect(events.map((e) => `${e.outcome}:${e.reason}`)).toEqual(['offloaded:unhealthy', 'offloaded:unhealthy']);
  });

  it('a version in the path that the node does not serve stays the node’s 404', async () => {
    const cloud = await fakeCloud();
    closers.push(cloud.close);
    const models = fakeModels({
      offload: offload('cloud-only'),
      queue: QUEUE,
      local: () => Promise.reject(new FoglineError('FOGLINE_ERR_MODEL_VERSION_NOT_FOUND', 'not 7')),
    });
    await expect(offloader(models, cloud.url, []).infer(inferenceCall('energy', '7', REQUEST))).rejects.toThrow('not 7');
    expect(cloud.seen).toHaveLength(0);
  });
});
