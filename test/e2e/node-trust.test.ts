/**
 * What a join token decides and what an operator decides later, with real processes: a control
 * plane (SQLite, heartbeats every second), `fogline agent`s and the CLI. A token that fixes the
 * role or allows label patterns refuses an agent asking for more (nothing used up, no node); a
 * --require-approval node stays without the deployment that selects it until `fogline nodes
 * approve`; `fogline nodes rotate-credential` and --credential-ttl change a running agent's
 * credential while it keeps heartbeating and serving, and the old one is refused afterwards.
 * Steps run in order and share one cluster; every wait polls.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeploymentView } from '../../src/contracts/deployments.js';
import type { NodeView } from '../../src/contracts/nodes.js';
import type { TokenInfo } from '../../src/contracts/tokens.js';
import { type AgentHandle, TestCluster } from '../support/cluster.js';
import { cleanFoglineEnv, eventually, requestJson, runFogline, tempDir, waitForExit } from '../support/processes.js';

/** The credential overlap of the control plane: an old credential works this long after the new one is in use. */
const OVERLAP_MS = 30_000;

describe('node trust: join policies, approval and credential rotation (real processes)', { timeout: 120_000 }, () => {
  let cluster: TestCluster;
  let expiring: AgentHandle;
  let expiringFirst: string;

  const cli = (args: string[]) => runFogline(args, cleanFoglineEnv({ FOGLINE_SERVER: cluster.url, FOGLINE_TOKEN: cluster.adminToken }));
  const node = async (name: string) => (await cluster.api<NodeView>('GET', `/api/v1/nodes/${name}`)).body;
  const credentialIn = (agent: AgentHandle) =>
    (JSON.parse(fs.readFileSync(path.join(agent.dataDir, 'node.json'), 'utf8')) as { credential: string }).credential;
  /** The node reading its own record with `credential` (a node credential may): status and error code. */
  const readAsNode = async (nodeId: string, credential: string) => {
    const answer = await requestJson<{ code?: string }>(`${cluster.url}/api/v1/nodes/${nodeId}`, { token: credential });
    return { status: answer.status, code: answer.body.code };
  };

  /** `fogline token create --role join <flags>`: the secret and the token's id. */
  async function joinToken(flags: string[]): Promise<{ token: string; id: string }> {
    const created = await cli(['token', 'create', '--role', 'join', '--json', ...flags]);
    expect(created.code, created.stderr).toBe(0);
    const body = JSON.parse(created.stdout) as { token: string; info: TokenInfo };
    return { token: body.token, id: body.info.id };
  }

  /** Starts `fogline agent` expecting the control plane to refuse its enrolment: its exit code and output. */
  async function refusedAgent(name: string, args: string[]): Promise<{ code: number | null; output: string }> {
    const proc = cluster.processes.start([
      ...['agent', '--server', cluster.url, '--name', name, '--data-dir', tempDir(`trust-${name}`), '--port', '0'],
      ...args,
    ]);
    const code = await waitForExit(proc, 30_000);
    return { code, output: proc.output() };
  }

  const usesOf = async (id: string) =>
    (await cluster.api<{ tokens: TokenInfo[] }>('GET', '/api/v1/tokens?all=true')).body.tokens.find((t) => t.id === id)?.uses;
  const nodeNames = async () => (await cluster.api<{ nodes: NodeView[] }>('GET', '/api/v1/nodes')).body.nodes.map((n) => n.name);

  beforeAll(async () => {
    cluster = await TestCluster.start('trust');
    // Its first credential lives 30 s (renewed at half-life, with a heartbeat): the clock runs while the other steps do.
    const ttl = await joinToken(['--credential-ttl', '30s', '--node-labels', 'site=lab']);
    expiring = await cluster.startAgent('edge-ttl', { joinToken: ttl.token });
    expiringFirst = credentialIn(expiring);
    await cluster.uploadPjme();
    expect(await cluster.trainForecaster({ seed: 1 })).toBe(1);
    const created = await cluster.api('POST', '/api/v1/deployments', {
      name: 'energy',
      model: 'energy',
      nodeSelector: { site: 'plant-a' },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
  }, 400_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('refuses an agent asking for role cloud with an edge-only token: it exits, no node, the token still has its use', async () => {
    const join = await joinToken(['--node-role', 'edge', '--max-uses', '1']);
    const refused = await refusedAgent('rogue', ['--role', 'cloud', '--join-token', join.token]);
    expect(refused.code).not.toBe(0);
    expect(refused.output).toContain('enrols edge nodes only');
    expect(await nodeNames()).not.toContain('rogue');
    expect(await usesOf(join.id)).toBe(0);
  });

  it('lets an agent ask only for labels the pattern allows', async () => {
    const join = await joinToken(['--allowed-labels', 'site=plant-*']);
    const refused = await refusedAgent('office', ['--labels', 'site=office', '--join-token', join.token]);
    expect(refused.code).not.toBe(0);
    expect(refused.output).toContain('site=office');
    expect(await nodeNames()).not.toContain('office');
    await cluster.startAgent('edge-b', { labels: 'site=plant-b', joinToken: join.token });
    expect((await node('edge-b')).labels).toEqual({ site: 'plant-b' });
    expect(await usesOf(join.id)).toBe(1);
  });

  it('keeps a --require-approval node out of the deployment that selects it until fogline nodes approve, then it serves', async () => {
    const join = await joinToken(['--require-approval', '--node-labels', 'site=plant-a']);
    const agent = await cluster.startAgent('edge-a', { joinToken: join.token });
    const { id: nodeId } = await node('edge-a');
    // Pending, and online: it heartbeats.
    await eventually(async () => ((await node('edge-a')).status === 'online' ? true : undefined), 30_000);
    expect(await node('edge-a')).toMatchObject({ pending: true, labels: { site: 'plant-a' } });
    const listed = await cli(['nodes', 'list']);
    expect(listed.stdout).toMatch(/edge-a\s.*online,pending/);
    // Its desired state, as its own agent reads it, gives it nothing though the selector matches.
    const desired = await requestJson<{ deployments: unknown[] }>(`${cluster.url}/api/v1/nodes/${nodeId}/desired-state`, {
      token: credentialIn(agent),
    });
    expect(desired).toMatchObject({ status: 200, body: { deployments: [] } });
    const view = (await cluster.api<DeploymentView>('GET', '/api/v1/deployments/energy')).body;
    expect(view.nodes.map((n) => n.nodeName)).not.toContain('edge-a');
    expect((await requestJson(`${agent.url}/v2/models/energy`)).status).toBe(404);

    const approved = await cli(['nodes', 'approve', 'edge-a']);
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toContain('edge-a is approved');
    expect(
      await eventually(async () => ((await cluster.infer('edge-a', 'energy').catch(() => undefined)) === '1' ? true : undefined), 60_000),
    ).toBe(true);
  });

  it('rotates the credential of a running agent: it saves the new one and keeps heartbeating and serving; the old one is refused after the overlap', async () => {
    const agent = cluster.agents.get('edge-a') as AgentHandle;
    const { id: nodeId } = await node('edge-a');
    const old = credentialIn(agent);
    const rotated = await cli(['nodes', 'rotate-credential', 'edge-a']);
    expect(rotated.code, rotated.stderr).toBe(0);
    const fresh = await eventually(async () => (credentialIn(agent) !== old ? credentialIn(agent) : undefined), 30_000);
    // Made current by the agent's next heartbeat with it.
    await eventually(async () => ((await node('edge-a')).credentialRotation === undefined ? true : undefined), 30_000);
    expect(await readAsNode(nodeId, fresh)).toEqual({ status: 200, code: undefined });
    // The old credential stops working once the overlap is over (AUTH_EXPIRED, as a revoked one is refused).
    const refused = await eventually(
      async () => {
        const answer = await readAsNode(nodeId, old);
        return answer.status === 401 ? answer : undefined;
      },
      OVERLAP_MS + 30_000,
      1000,
    );
    expect(refused.code).toBe('FOGLINE_ERR_AUTH_EXPIRED');
    // The agent never stopped: it heartbeats with the new credential and serves.
    expect(agent.process.child.exitCode).toBeNull();
    const before = (await node('edge-a')).lastHeartbeatAt;
    await eventually(async () => ((await node('edge-a')).lastHeartbeatAt !== before ? true : undefined), 30_000);
    expect(await cluster.infer('edge-a', 'energy')).toBe('1');
    expect((await requestJson(`${agent.url}/readyz`)).status).toBe(200);
  });

  it('renews a --credential-ttl credential by itself before it expires; the first one is refused once its lifetime is over', async () => {
    const { id: nodeId, labels } = await node('edge-ttl');
    expect(labels).toEqual({ site: 'lab' });
    await eventually(async () => (credentialIn(expiring) !== expiringFirst ? true : undefined), 60_000);
    const refused = await eventually(
      async () => {
        const answer = await readAsNode(nodeId, expiringFirst);
        return answer.status === 401 ? answer : undefined;
      },
      60_000,
      1000,
    );
    expect(refused.code).toBe('FOGLINE_ERR_AUTH_EXPIRED');
    // Past its first credential's lifetime, the agent is still up and heartbeating with a later one.
    expect(expiring.process.child.exitCode).toBeNull();
    const before = (await node('edge-ttl')).lastHeartbeatAt;
    await eventually(async () => ((await node('edge-ttl')).lastHeartbeatAt !== before ? true : undefined), 30_000);
    expect((await node('edge-ttl')).status).toBe('online');
  });
});
