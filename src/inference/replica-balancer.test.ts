import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { V2InferRequest, V2InferResponse } from '../contracts/open-inference.js';
import type { CloudReplica } from './cloud-replicas.js';
import { inferenceCall, toV2Response } from './inference-call.js';
import { type LocalModels, REPLICA_PARAMETER, ReplicaBalancer } from './replica-balancer.js';

/** A replica on loopback: answers V2 infer after `delayMs` with `status`, and counts what it got. */
async function replicaServer(name: string, options: { delayMs: number; status?: number }) {
  const seen = { infer: 0, ready: 0 };
  const server = http.createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      if (request.method === 'GET') {
        seen.ready += 1;
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"ready":true}');
        return;
      }
      seen.infer += 1;
      const input = (JSON.parse(body) as V2InferRequest).inputs[0]!;
      setTimeout(() => {
        const answer: V2InferResponse = {
          model_name: 'energy-cloud',
          model_version: '1',
          parameters: { 'fogline.ran_on': 'edge', 'fogline.offload_reason': 'edge-only' },
          outputs: [{ name: 'forecast', shape: [1, 1], datatype: 'FP32', data: [(input.data[0] as number) * 2] }],
        };
        response.writeHead(options.status ?? 200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
      }, options.delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const replica: CloudReplica = {
    id: `${name}/energy-cloud`,
    nodeName: name,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    deployment: 'energy-cloud',
    model: 'energy',
    version: 1,
  };
  return { replica, seen, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** The control plane's own models, for the fallback: answers 0 - x, so its answers are told apart. */
const local: LocalModels = {
  ready: async () => true,
  metadata: () => Promise.reject(new Error('not used')),
  modelReady: async () => undefined,
  resolve: async (name) => ({ model: name, version: 1 }),
  infer: async (call) => ({
    modelName: 'energy',
    modelVersion: '1',
    outputs: [{ name: 'forecast', shape: [1, 1], datatype: 'FP32', data: [-(call.inputs[0]!.data[0] as number)] }],
  }),
};

const request = (x: number): V2InferRequest => ({ inputs: [{ name: 'history', shape: [1, 1], datatype: 'FP32', data: [x] }] });

/** One request through `balancer`, answered as the V2 routes would write it. */
async function ask(balancer: ReplicaBalancer, name: string, version: string | undefined, body: V2InferRequest): Promise<V2InferResponse> {
  return toV2Response(await balancer.infer(inferenceCall(name, version, body)), body.id);
}

describe('ReplicaBalancer (replicas on loopback)', () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });

  async function balancerOver(...servers: Awaited<ReturnType<typeof replicaServer>>[]) {
    for (const s of servers) closers.push(s.close);
    const balancer = new ReplicaBalancer(local, async () => servers.map((s) => s.replica), { checkMs: 60_000 });
    await balancer.check();
    return balancer;
  }

  it('sends more requests to the replica that answers faster (least outstanding requests)', async () => {
    const fast = await replicaServer('fast', { delayMs: 5 });
    const slow = await replicaServer('slow', { delayMs: 200 });
    const balancer = await balancerOver(fast, slow);
    // Eight clients, each sending its requests one after another, for 40 requests in all.
    const answers = (
      await Promise.all(
        Array.from({ length: 8 }, async (_, client) => {
          const mine: V2InferResponse[] = [];
          for (let i = 0; i < 5; i++) mine.push(await ask(balancer, 'energy', '1', request(client * 10 + i)));
          return mine;
        }),
      )
    ).flat();
    expect(answers).toHaveLength(40);
    expect(fast.seen.infer + slow.seen.infer).toBe(40);
    expect(fast.seen.infer).toBeGreaterThan(2 * slow.seen.infer);
    for (const a of answers) {
      expect(a.model_name).toBe('energy');
      expect(a.parameters?.['fogline.ran_on']).toBe('cloud');
      expect(a.parameters?.['fogline.offload_reason']).toBeUndefined();
      expect(['fast', 'slow']).toContain(a.parameters?.[REPLICA_PARAMETER]);
    }
    expect(balancer.states().every((s) => s.healthy && s.outstanding === 0)).toBe(true);
  });

  it('a replica failing with 500 is taken out; its request is answered by the next one, with the same numbers', async () => {
    const broken = await replicaServer('broken', { delayMs: 0, status: 500 });
    const good = await replicaServer('good', { delayMs: 0 });
    const balancer = await balancerOver(broken, good);
    // Its health check passes (the process is up), so it starts in the rotation.
    expect(balancer.states().every((s) => s.healthy)).toBe(true);
    const answers = [];
    for (const x of [1, 2, 3, 4]) answers.push(await ask(balancer, 'energy', undefined, request(x)));
    expect(answers.map((a) => a.outputs[0]!.data[0])).toEqual([2, 4, 6, 8]);
    expect(answers.every((a) => a.parameters?.[REPLICA_PARAMETER] === 'good')).toBe(true);
    // Tried once (its turn), failed, and out until a health check passes again.
    expect(broken.seen.infer).toBe(1);
    expect(balancer.states().find((s) => s.nodeName === 'broken')?.healthy).toBe(false);
  });

  it('with no replica serving the version, or every replica down, the control plane answers itself', async () => {
    const gone = await replicaServer('gone', { delayMs: 0 });
    const balancer = await balancerOver(gone);
    expect((await ask(balancer, 'energy', '1', request(3))).parameters?.[REPLICA_PARAMETER]).toBe('gone');
    await gone.close();
    closers.length = 0;
    // Still marked healthy until it fails: the request moves on to the control plane and succeeds.
    const answer = await ask(balancer, 'energy', '1', request(3));
    expect(answer.outputs[0]!.data[0]).toBe(-3);
    expect(answer.parameters?.[REPLICA_PARAMETER]).toBe('control-plane');
    expect(balancer.states()[0]!.healthy).toBe(false);
    // Another model name never goes to this replica.
    expect((await ask(balancer, 'other', '1', request(1))).parameters?.[REPLICA_PARAMETER]).toBe('control-plane');
  });
});
