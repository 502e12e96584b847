/**
 * Telemetry measured while the link was down reaches the control plane afterwards: the agent's
 * heartbeat loop buffers samples while a (real, loopback) control-plane endpoint fails, and
 * delivers them with the first heartbeat that gets through; the control plane files them in the
 * node's resource history at the time they were measured.
 */
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeartbeatLoop } from '../../src/agent/heartbeat-loop.js';
import { ApiClient } from '../../src/client/api-client.js';
import type { HeartbeatRequest, NodeResources } from '../../src/contracts/nodes.js';
import { startTestControlPlane, type TestControlPlane } from '../support/control-plane.js';
import { eventually } from '../support/processes.js';

const AGENT = { version: '0.1.0', os: 'linux', arch: 'arm64', hostname: 'pi', inferenceUrl: 'http://127.0.0.1:1' };
const resources = (load: number): NodeResources => ({
  cpuCount: 4,
  loadAverage: [load, 0, 0],
  memoryTotalBytes: 8e9,
  memoryFreeBytes: 4e9,
  diskTotalBytes: 6e10,
  diskFreeBytes: 3e10,
  gpus: [],
});

describe('telemetry measured while away', () => {
  let cp: TestControlPlane;

  beforeAll(async () => {
    cp = await startTestControlPlane();
  });
  afterAll(async () => {
    await cp?.close();
  });

  it('buffers heartbeat samples while the control plane fails and delivers them with the next one that gets through', async () => {
    const received: HeartbeatRequest[] = [];
    let down = false;
    const server = Fastify();
    server.post('/api/v1/nodes/:id/heartbeat', async (request, reply) => {
      if (down) return reply.status(503).send({ code: 'FOGLINE_ERR_DB_UNAVAILABLE', message: 'down' });
      received.push(request.body as HeartbeatRequest);
      return { heartbeatIntervalSeconds: 0.05, serverTime: new Date().toISOString() };
    });
    await server.listen({ host: '127.0.0.1', port: 0 });
    const address = server.server.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    let load = 0;
    const loop = new HeartbeatLoop(
      new ApiClient({ server: url, token: 'fgl.x.y' }),
      'node-1',
      50,
      async () => ({ resources: resources((load += 1)), agent: AGENT }),
      server.log,
    );
    loop.start();
    try {
      await eventually(async () => (received.length >= 2 ? true : undefined), 10_000, 20);
      down = true;
      await eventually(async () => (loop.backlog.size >= 3 ? true : undefined), 20_000, 50);
      const before = received.length;
      down = false;
      const delivered = await eventually(async () => received.slice(before).find((h) => h.backlog), 20_000, 20);
      const loads = delivered.backlog!.samples.map((s) => s.resources.loadAverage[0]!);
      expect(loads.length).toBeGreaterThanOrEqual(3);
      // In the order they were measured, each older than the heartbeat that carried them.
      expect(loads).toEqual([...loads].sort((a, b) => a - b));
      expect(Math.max(...loads)).toBeLessThan(delivered.resources.loadAverage[0]!);
      expect(delivered.backlog!.dropped).toBe(0);
      await eventually(async () => (loop.backlog.size === 0 ? true : undefined), 5000, 20);
    } finally {
      await loop.stop();
      await server.close();
    }
  });

  it('files a delivered backlog in the node resource history at the time each sample was measured', async () => {
    const { token } = await cp.admin.createToken({ name: 'join', role: 'join', maxUses: 1 });
    const node = await new ApiClient({ server: cp.url }).enroll(token, { name: 'edge-away', role: 'edge' });
    const now = Date.now();
    const backlog = {
      samples: [30, 20].map((minutesAgo, i) => ({ at: now - minutesAgo * 60_000, resources: resources(i + 1) })),
      dropped: 4,
    };
    const answer = await cp.call('POST', `/api/v1/nodes/${node.nodeId}/heartbeat`, {
      token: node.credential,
      body: { resources: resources(9), agent: AGENT, backlog },
    });
    expect(answer.status).toBe(200);
    const history = await cp.call('GET', `/api/v1/nodes/${node.nodeId}/resource-history`, { token: cp.adminToken });
    const samples = history.body.samples as { t: number; load1: number }[];
    expect(samples.map((s) => s.load1)).toEqual([1, 2, 9]);
    expect(Math.round(samples[0]!.t)).toBe(Math.round((now - 30 * 60_000) / 1000));
    // A backlog too large for the contract is refused whole.
    const flood = { samples: Array.from({ length: 721 }, (_, i) => ({ at: now - i, resources: resources(1) })), dropped: 0 };
    const refused = await cp.call('POST', `/api/v1/nodes/${node.nodeId}/heartbeat`, {
      token: node.credential,
      body: { resources: resources(1), agent: AGENT, backlog: flood },
    });
    expect(refused.status).toBe(400);
  });
});
