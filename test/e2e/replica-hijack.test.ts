/**
 * The cloud-replica hijack of issue 14, with real processes: a node enrolled with a join token
 * (role cloud, but not placed on the deployment) reports "serving" for a deployment it was never
 * given and heartbeats an `inferenceUrl` pointing at a listener of its own. Users' cloud inference
 * must be answered by the real replica (a cloud agent the control plane placed the deployment on)
 * or by the control plane itself, never by that listener: it must not even be health-checked.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeploymentView } from '../../src/contracts/deployments.js';
import type { V2InferResponse } from '../../src/contracts/open-inference.js';
import { IDLE_HEARTBEAT } from '../support/control-plane.js';
import { FORECAST_REQUEST, TestCluster } from '../support/cluster.js';
import { eventually, requestJson } from '../support/processes.js';

describe('a node cannot make itself a cloud replica (real processes)', { timeout: 240_000 }, () => {
  let cluster: TestCluster;
  let viewer: string;
  let listener: http.Server;
  let listenerUrl: string;
  /** Every request the rogue's listener received. */
  const received: string[] = [];
  let rogue: { nodeId: string; credential: string };
  let pretending: NodeJS.Timeout | undefined;
  const refusals: unknown[] = [];

  async function infer(): Promise<{ status: number; replica: unknown; body: V2InferResponse }> {
    const { status, body } = await requestJson<V2InferResponse>(`${cluster.url}/v2/models/energy/versions/1/infer`, {
      method: 'POST',
      token: viewer,
      body: FORECAST_REQUEST,
      timeoutMs: 15_000,
    });
    return { status, replica: body.parameters?.['fogline.replica'], body };
  }

  async function metrics(): Promise<string> {
    return (await fetch(`${cluster.url}/metrics`, { headers: { authorization: `Bearer ${cluster.adminToken}` } })).text();
  }

  /** What the rogue node keeps saying: alive, serving at its listener, and serving energy-cloud. */
  async function pretend(): Promise<void> {
    const headers = { authorization: `Bearer ${rogue.credential}`, 'content-type': 'application/json' };
    const base = `${cluster.url}/api/v1/nodes/${rogue.nodeId}`;
    await fetch(`${base}/heartbeat`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ ...IDLE_HEARTBEAT, agent: { ...IDLE_HEARTBEAT.agent, inferenceUrl: listenerUrl } }),
    });
    const report = await fetch(`${base}/deployment-status`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ deployments: [{ name: 'energy-cloud', version: 1, state: 'serving', servingVersion: 1 }] }),
    });
    if (report.status !== 204) refusals.push(await report.json());
  }

  beforeAll(async () => {
    // The rogue's own "replica": it answers health checks and returns a forecast of its choosing.
    listener = http.createServer((request, response) => {
      received.push(`${request.method} ${request.url}`);
      response.setHeader('content-type', 'application/json');
      response.end(
        request.url?.endsWith('/ready')
          ? '{"ready":true}'
          : JSON.stringify({ model_name: 'energy', outputs: [{ name: 'forecast', shape: [1, 1], datatype: 'FP32', data: [666] }] }),
      );
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    listenerUrl = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;

    cluster = await TestCluster.start('hijack');
    await cluster.uploadPjme();
    expect(await cluster.trainForecaster({ seed: 1 })).toBe(1);
    viewer = (await cluster.api<{ token: string }>('POST', '/api/v1/tokens', { name: 'viewer', role: 'viewer' })).body.token;
    const join = await cluster.joinToken(2);
    await cluster.startAgent('cloud-1', { labels: 'tier=cloud', joinToken: join, args: ['--role', 'cloud'] });
    // The attacker holds the same join token: it picks role cloud and enrols as an agent from before
    // issue 14 would (no URL), so that its first heartbeat sets its inference URL to its listener.
    const enrolled = await requestJson<{ nodeId: string; credential: string }>(`${cluster.url}/api/v1/nodes/enroll`, {
      method: 'POST',
      token: join,
      body: { name: 'rogue', role: 'cloud', labels: { tier: 'rogue' } },
    });
    expect(enrolled.status, JSON.stringify(enrolled.body)).toBe(201);
    rogue = enrolled.body;
    await cluster.nodesOnline(1);
    const created = await cluster.api<DeploymentView>('POST', '/api/v1/deployments', {
      name: 'energy-cloud',
      model: 'energy@1',
      nodeSelector: { tier: 'cloud' },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    await pretend();
    pretending = setInterval(() => void pretend().catch(() => undefined), 500);
    // The real replica passes its health checks once its agent serves the version.
    await eventually(
      async () => (/fogline_cloud_replica_healthy\{replica="cloud-1"[^}]*\} 1/.test(await metrics()) ? true : undefined),
      90_000,
      500,
    );
  }, 300_000);

  afterAll(async () => {
    clearInterval(pretending);
    await cluster?.stop();
    await new Promise((resolve) => listener?.close(resolve));
  });

  it("answers users' cloud inference from the real replica, never from the rogue node's listener", async () => {
    const answers = await Promise.all(Array.from({ length: 24 }, () => infer()));
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    for (const answer of answers) {
      expect(['cloud-1', 'control-plane']).toContain(answer.replica);
      expect(answer.body.outputs[0]!.data).not.toEqual([666]);
    }
    expect(new Set(answers.map((a) => a.replica))).toContain('cloud-1');
    expect(received).toEqual([]);
    expect(await metrics()).not.toMatch(/replica="rogue"/);
    // Its reports were refused, and it is not among the deployment's nodes.
    expect(refusals[0]).toMatchObject({ code: 'FOGLINE_ERR_NODE_NOT_ASSIGNED' });
    const view = (await cluster.api<DeploymentView>('GET', '/api/v1/deployments/energy-cloud')).body;
    expect(view.nodes.map((n) => n.nodeName)).toEqual(['cloud-1']);
  });

  it('with the real replica gone, the control plane answers, still never the listener', async () => {
    cluster.agents.get('cloud-1')!.process.child.kill('SIGKILL');
    const answers = [
      ...(await Promise.all(Array.from({ length: 8 }, () => infer()))),
      ...(await Promise.all(Array.from({ length: 8 }, () => infer()))),
    ];
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    expect(answers.at(-1)!.replica).toBe('control-plane');
    for (const answer of answers) expect(['cloud-1', 'control-plane']).toContain(answer.replica);
    expect(received).toEqual([]);
  });
});
