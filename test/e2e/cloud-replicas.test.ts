/**
 * Load balancing across cloud inference replicas, with real processes: a control plane, two
 * agents with role `cloud` serving one forecaster (deployment `energy-cloud`) and an edge agent
 * whose deployment of the same version offloads everything (`cloud-only`). Requests to the
 * control plane's /v2 go to the cloud nodes, both take a share, and the numbers are the same as
 * the control plane's own; an edge node's offloaded requests land on them too; a replica killed
 * mid-traffic fails no request, and with every replica gone the control plane answers itself.
 * cloud-2 runs `--edge-auth token`: the control plane reaches it with its own inference token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeploymentView } from '../../src/contracts/deployments.js';
import type { V2InferResponse } from '../../src/contracts/open-inference.js';
import { FORECAST_REQUEST, TestCluster } from '../support/cluster.js';
import { eventually, requestJson } from '../support/processes.js';

describe('cloud inference replicas (real processes)', { timeout: 240_000 }, () => {
  let cluster: TestCluster;
  const path = '/v2/models/energy/versions/1/infer';

  /** One request to the control plane's /v2 (admin token); the replica that answered. */
  async function viaControlPlane(): Promise<{ status: number; replica: unknown; body: V2InferResponse }> {
    const { status, body } = await requestJson<V2InferResponse>(`${cluster.url}${path}`, {
      method: 'POST',
      token: cluster.adminToken,
      body: FORECAST_REQUEST,
      timeoutMs: 15_000,
    });
    return { status, replica: body.parameters?.['fogline.replica'], body };
  }

  const burst = (count: number) => Promise.all(Array.from({ length: count }, () => viaControlPlane()));

  async function metrics(): Promise<string> {
    const response = await fetch(`${cluster.url}/metrics`, { headers: { authorization: `Bearer ${cluster.adminToken}` } });
    return response.text();
  }

  beforeAll(async () => {
    cluster = await TestCluster.start('replicas');
    await cluster.uploadPjme();
    expect(await cluster.trainForecaster({ seed: 1 })).toBe(1);
    const join = await cluster.joinToken(3);
    for (const name of ['cloud-1', 'cloud-2']) {
      const edgeAuth = name === 'cloud-2' ? ['--edge-auth', 'token'] : [];
      await cluster.startAgent(name, { labels: 'tier=cloud', joinToken: join, args: ['--role', 'cloud', ...edgeAuth] });
    }
    await cluster.startAgent('edge-1', { labels: 'tier=edge', joinToken: join });
    await cluster.nodesOnline(3);
    for (const [name, tier, offload] of [
      ['energy-cloud', 'cloud', 'edge-only'],
      ['energy-edge', 'edge', 'cloud-only'],
    ] as const) {
      const created = await cluster.api<DeploymentView>('POST', '/api/v1/deployments', {
        name,
        model: 'energy@1',
        nodeSelector: { tier },
        offload,
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
    }
    // Both replicas pass a health check (every 2 s) once their agents report the version serving.
    await eventually(
      async () => {
        const text = await metrics();
        return ['cloud-1', 'cloud-2'].every((n) => new RegExp(`fogline_cloud_replica_healthy\\{replica="${n}"[^}]*\\} 1`).test(text))
          ? true
          : undefined;
      },
      90_000,
      500,
    );
  }, 300_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('spreads the control plane /v2 requests over both cloud nodes, with the numbers the control plane computes', async () => {
    const answers = [...(await burst(12)), ...(await burst(12)), ...(await burst(12))];
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    const replicas = new Set(answers.map((a) => a.replica));
    expect(replicas).toEqual(new Set(['cloud-1', 'cloud-2']));
    for (const a of answers) {
      expect(a.body.model_name).toBe('energy');
      expect(a.body.model_version).toBe('1');
      expect(a.body.parameters?.['fogline.ran_on']).toBe('cloud');
    }
    // The same version computed by each replica: the same forecast, to float32 precision.
    const byReplica = new Map(answers.map((a) => [a.replica, a.body.outputs[0]!.data as number[]]));
    const [one, two] = [...byReplica.values()];
    one!.forEach((value, i) => expect(value).toBeCloseTo(two![i]!, 2));
    const text = await metrics();
    expect(text).toMatch(/fogline_cloud_inference_requests_total\{replica="cloud-1",outcome="ok"\} \d+/);
    expect(text).toMatch(/fogline_cloud_inference_requests_total\{replica="cloud-2",outcome="ok"\} \d+/);
  });

  it("an edge node's offloaded requests are answered by a cloud replica", async () => {
    const edge = cluster.agents.get('edge-1')!;
    const answer = await eventually(async () => {
      const { status, body } = await requestJson<V2InferResponse>(`${edge.url}/v2/models/energy-edge/infer`, {
        method: 'POST',
        body: FORECAST_REQUEST,
        timeoutMs: 15_000,
      });
      return status === 200 && body.parameters?.['fogline.ran_on'] === 'cloud' ? body : undefined;
    }, 60_000);
    expect(['cloud-1', 'cloud-2']).toContain(answer.parameters?.['fogline.replica']);
    expect(answer.parameters?.['fogline.node']).toBe('edge-1');
  });

  it('a replica killed under traffic fails no request; with none left the control plane answers itself', async () => {
    const during = burst(16);
    cluster.agents.get('cloud-1')!.process.child.kill('SIGKILL');
    const answers = [...(await during), ...(await burst(16)), ...(await burst(16))];
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    // Once out of the rotation, cloud-1 takes nothing more.
    const after = await burst(16);
    expect(after.map((a) => a.status)).toEqual(after.map(() => 200));
    expect(new Set(after.map((a) => a.replica))).toEqual(new Set(['cloud-2']));

    cluster.agents.get('cloud-2')!.process.child.kill('SIGKILL');
    const alone = [...(await burst(8)), ...(await burst(8))];
    expect(alone.map((a) => a.status)).toEqual(alone.map(() => 200));
    expect(alone.at(-1)!.replica).toBe('control-plane');
    expect(await metrics()).toMatch(/fogline_cloud_replica_healthy\{replica="cloud-2"[^}]*\} 0/);
  });
});
