/**
 * The life of a node, with real processes: a control plane on SQLite and `fogline agent`s that
 * enrol, restart, lose the server, die, and get their credential revoked. Steps run in order and
 * share one cluster; every wait polls (`eventually`) instead of sleeping, with room for a busy
 * two-core machine.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeList, NodeView } from '../../src/contracts/nodes.js';
import type { TokenInfo, TokenList } from '../../src/contracts/tokens.js';
import {
  cleanFoglineEnv,
  eventually,
  type FoglineProcess,
  freePort,
  requestJson,
  runFogline,
  stopProcess,
  tempDir,
  waitForExit,
  ProcessTracker,
} from '../support/processes.js';
import { TestCluster } from '../support/cluster.js';

const HEARTBEAT_INTERVAL_S = 1;
const NODE_TIMEOUT_S = 3;
/** How long a state change may take to show on a loaded machine (several heartbeat intervals). */
const SETTLE_MS = 25_000;

/** The pid of a process that has ended. */
async function endedPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

describe('agent lifecycle (real processes)', { timeout: 90_000 }, () => {
  const serverDir = tempDir('lifecycle-server');
  const agentDir = tempDir('lifecycle-agent');
  const processes = new ProcessTracker();
  let port: number;
  let serverUrl: string;
  let adminToken: string;
  let server: FoglineProcess;
  let agent: FoglineProcess;
  let joinToken: string;
  let joinTokenId: string;
  let nodeId: string;

  const start = (args: string[]): FoglineProcess => processes.start(args);

  async function startServer(): Promise<FoglineProcess> {
    const proc = start([
      'server',
      '--data-dir',
      serverDir,
      '--port',
      String(port),
      '--heartbeat-interval',
      String(HEARTBEAT_INTERVAL_S),
      '--node-timeout',
      String(NODE_TIMEOUT_S),
      '--log-level',
      'warn',
    ]);
    await proc.waitForOutput(/listening on (http:\/\/\S+)/, 30_000);
    return proc;
  }

  /** Starts `fogline agent` as edge-a; with a join token only when asked (the first start). */
  async function startAgent(withJoinToken: boolean): Promise<FoglineProcess> {
    const args = ['agent', '--server', serverUrl, '--name', 'edge-a', '--labels', 'site=plant-a,zone=north', '--role', 'edge'];
    args.push('--data-dir', agentDir, '--port', '0', '--log-level', 'warn');
    if (withJoinToken) args.push('--join-token', joinToken);
    const proc = start(args);
    await proc.waitForOutput(/serving on http:\/\/\S+/, 30_000);
    return proc;
  }

  function agentUrl(proc: FoglineProcess): string {
    const match = proc.output().match(/serving on (http:\/\/\S+)/);
    if (!match?.[1]) throw new Error(`the agent printed no URL:\n${proc.output()}`);
    return match[1];
  }

  async function api<T>(method: string, route: string, body?: unknown): Promise<{ status: number; body: T }> {
    return requestJson<T>(`${serverUrl}${route}`, { method, token: adminToken, body });
  }

  async function listNodes(): Promise<NodeView[]> {
    const { status, body } = await api<NodeList>('GET', '/api/v1/nodes');
    expect(status).toBe(200);
    return body.nodes;
  }

  async function getNode(): Promise<NodeView> {
    const { status, body } = await api<NodeView>('GET', `/api/v1/nodes/${nodeId}`);
    expect(status).toBe(200);
    return body;
  }

  /** Polls the node until `predicate` holds; returns that view, or fails showing the last one seen. */
  async function nodeWhen(predicate: (node: NodeView) => boolean, timeoutMs = SETTLE_MS): Promise<NodeView> {
    let last: NodeView | undefined;
    try {
      return await eventually(async () => {
        last = await getNode();
        return predicate(last) ? last : undefined;
      }, timeoutMs);
    } catch (error) {
      const seen = last && { status: last.status, lastHeartbeatAt: last.lastHeartbeatAt, heartbeatAgeSeconds: last.heartbeatAgeSeconds };
      throw new Error(`${(error as Error).message}; last seen: ${JSON.stringify(seen)}`);
    }
  }

  async function findToken(id: string): Promise<TokenInfo | undefined> {
    const { body } = await api<TokenList>('GET', '/api/v1/tokens?all=true');
    return body.tokens.find((token) => token.id === id);
  }

  beforeAll(async () => {
    port = await freePort();
    serverUrl = `http://127.0.0.1:${port}`;
    server = await startServer();
    adminToken = fs.readFileSync(path.join(serverDir, 'admin.token'), 'utf8').trim();
    const created = await runFogline(
      ['token', 'create', '--role', 'join', '--max-uses', '1', '--name', 'edge-a join', '--json'],
      cleanFoglineEnv({ FOGLINE_SERVER: serverUrl, FOGLINE_TOKEN: adminToken }),
    );
    expect(created.code, created.stderr).toBe(0);
    const parsed = JSON.parse(created.stdout) as { token: string; info: TokenInfo };
    joinToken = parsed.token;
    joinTokenId = parsed.info.id;
  });

  afterAll(async () => {
    await processes.stopAll();
    fs.rmSync(serverDir, { recursive: true, force: true });
    fs.rmSync(agentDir, { recursive: true, force: true });
  });

  it('enrols with a join token and shows online with real resources and its labels', async () => {
    agent = await startAgent(true);
    const identity = JSON.parse(fs.readFileSync(path.join(agentDir, 'node.json'), 'utf8')) as { nodeId: string; credential: string };
    expect(identity.nodeId).toMatch(/\S/);
    expect(identity.credential).toMatch(/^fgl\./);
    // The credential is a secret: only its owner may read the file.
    expect(fs.statSync(path.join(agentDir, 'node.json')).mode & 0o077).toBe(0);
    nodeId = identity.nodeId;

    const node = await nodeWhen((view) => view.status === 'online' && view.resources !== null);
    expect(node).toMatchObject({ id: nodeId, name: 'edge-a', role: 'edge', cordoned: false, labels: { site: 'plant-a', zone: 'north' } });
    expect(node.resources?.cpuCount).toBeGreaterThanOrEqual(1);
    expect(node.resources?.memoryTotalBytes).toBeGreaterThan(0);
    expect(node.resources?.memoryFreeBytes).toBeGreaterThan(0);
    expect(node.resources?.memoryFreeBytes).toBeLessThanOrEqual(node.resources?.memoryTotalBytes ?? 0);
    expect(node.resources?.diskFreeBytes).toBeGreaterThan(0);
    expect(node.agent?.inferenceUrl).toBe(agentUrl(agent));
    // Where the control plane calls it: what the agent sent when it enrolled.
    expect(node.inferenceUrl).toBe(agentUrl(agent));

    // The agent's own health endpoints: ready once a heartbeat got through.
    // With the version and build that dist/build-info.json recorded (`fogline --version` prints them too).
    const { version, build } = JSON.parse(fs.readFileSync(new URL('../../dist/build-info.json', import.meta.url), 'utf8')) as {
      version: string;
      build: string;
    };
    expect(await requestJson(`${agentUrl(agent)}/healthz`)).toMatchObject({ status: 200, body: { status: 'ok', version, build } });
    const ready = await eventually(async () => {
      const response = await requestJson<{ status: string; nodeId: string }>(`${agentUrl(agent)}/readyz`);
      return response.status === 200 ? response.body : undefined;
    });
    expect(ready).toMatchObject({ status: 'ready', nodeId });

    expect(await findToken(joinTokenId)).toMatchObject({ role: 'join', uses: 1, maxUses: 1 });

    // It keeps beating at the interval the server hands out (--heartbeat-interval 1), not the 15 s default.
    const first = Date.parse(node.lastHeartbeatAt ?? '');
    const next = await nodeWhen((view) => Date.parse(view.lastHeartbeatAt ?? '') > first);
    const second = Date.parse(next.lastHeartbeatAt ?? '');
    const later = await nodeWhen((view) => Date.parse(view.lastHeartbeatAt ?? '') > second);
    // Half the default is far above 1 s plus any scheduling delay, and far below 15 s.
    expect(Date.parse(later.lastHeartbeatAt ?? '') - second, 'gap between heartbeats with --heartbeat-interval 1').toBeLessThan(7_500);
  });

  it('restarts without re-enrolling: same node id, still online, join token still at one use', async () => {
    expect(await stopProcess(agent)).toBe(0);
    const before = await getNode();
    // What an agent killed while writing node.json leaves behind is swept at the next start.
    const leftover = path.join(agentDir, `node.json.${await endedPid()}.tmp`);
    fs.writeFileSync(leftover, '{"half":');

    agent = await startAgent(false);
    expect(fs.existsSync(leftover)).toBe(false);
    // It announces the stored identity; a second enrolment would have failed (the join token is used up).
    expect(agent.output()).toContain(`Fogline agent edge-a (${nodeId})`);
    const node = await nodeWhen(
      (view) => view.status === 'online' && Date.parse(view.lastHeartbeatAt ?? '') > Date.parse(before.lastHeartbeatAt ?? ''),
    );
    expect(node.id).toBe(nodeId);
    // On another port (--port 0) now: its heartbeats say so, but the control plane keeps calling it
    // where it enrolled until an operator moves it, and the agent says how.
    expect(node.agent?.inferenceUrl).toBe(agentUrl(agent));
    expect(node.inferenceUrl).toBe(before.inferenceUrl);
    await agent.waitForOutput(/the control plane calls this agent at \S+, but it serves at \S+: .*fogline nodes set-url edge-a/, 10_000);
    const env = cleanFoglineEnv({ FOGLINE_SERVER: serverUrl, FOGLINE_TOKEN: adminToken });
    const moved = await runFogline(['nodes', 'set-url', 'edge-a', agentUrl(agent)], env);
    expect(moved.code, moved.stderr).toBe(0);
    expect(moved.stdout).toContain(`edge-a: the control plane now calls its agent at ${agentUrl(agent)}.`);
    expect((await getNode()).inferenceUrl).toBe(agentUrl(agent));

    const nodes = await listNodes();
    expect(nodes.map((view) => view.id)).toEqual([nodeId]);
    expect(await findToken(joinTokenId)).toMatchObject({ uses: 1, maxUses: 1, revokedAt: null });
  });

  it('reconnects by itself after the control plane restarts on the same port', async () => {
    expect(await stopProcess(server)).toBe(0);
    // While the server is away the agent keeps running (it retries with back-off).
    await eventually(async () => {
      const response = await requestJson<{ lastError: string | null }>(`${agentUrl(agent)}/readyz`);
      return response.body.lastError ? true : undefined;
    }, SETTLE_MS);
    expect(agent.child.exitCode).toBeNull();

    server = await startServer();
    const restartedAt = Date.now();
    const node = await nodeWhen((view) => view.status === 'online' && Date.parse(view.lastHeartbeatAt ?? '') >= restartedAt);
    expect(node.id).toBe(nodeId);
    expect(await listNodes()).toHaveLength(1);
    expect(agent.child.exitCode).toBeNull();
  });

  it('goes offline after the node timeout when the agent is killed', async () => {
    await nodeWhen((view) => view.status === 'online');
    agent.child.kill('SIGKILL');
    await agent.exited;

    const node = await nodeWhen((view) => view.status === 'offline');
    // Offline means the last heartbeat is older than --node-timeout, not merely late.
    expect(node.heartbeatAgeSeconds).toBeGreaterThanOrEqual(NODE_TIMEOUT_S);
    expect(Date.now() - Date.parse(node.lastHeartbeatAt ?? '')).toBeGreaterThanOrEqual(NODE_TIMEOUT_S * 1000);
  });

  it('refuses a second agent that brings a used-up join token', async () => {
    const otherDir = tempDir('lifecycle-agent-2');
    try {
      const second = start(
        ['agent', '--server', serverUrl, '--name', 'edge-b', '--join-token', joinToken].concat([
          '--data-dir',
          otherDir,
          '--port',
          '0',
          '--log-level',
          'warn',
        ]),
      );
      const code = await waitForExit(second, 30_000);
      expect(code).not.toBe(0);
      expect(second.output()).toMatch(/join token has no uses left/i);
      expect(second.output()).not.toMatch(/\n\s+at /); // one clear line, no stack trace
      expect(fs.existsSync(path.join(otherDir, 'node.json'))).toBe(false);
    } finally {
      fs.rmSync(otherDir, { recursive: true, force: true });
    }
    expect((await listNodes()).map((view) => view.name)).toEqual(['edge-a']);
    expect(await findToken(joinTokenId)).toMatchObject({ uses: 1, maxUses: 1 });
  });

  it('stops, says how to enrol again and exits non-zero once its credential is revoked (fogline token revoke)', async () => {
    agent = await startAgent(false);
    await nodeWhen((view) => view.status === 'online');

    const credentials = (await api<TokenList>('GET', '/api/v1/tokens?all=true')).body.tokens.filter(
      (token) => token.role === 'node' && token.nodeId === nodeId && token.revokedAt === null,
    );
    expect(credentials).toHaveLength(1);
    const credentialId = credentials[0]?.id as string;
    // Not listed without ?all=true: node credentials are not user tokens.
    expect((await api<TokenList>('GET', '/api/v1/tokens')).body.tokens.map((token) => token.id)).not.toContain(credentialId);

    const revoked = await runFogline(
      ['token', 'revoke', credentialId],
      cleanFoglineEnv({ FOGLINE_SERVER: serverUrl, FOGLINE_TOKEN: adminToken }),
    );
    expect(revoked.code, revoked.stderr).toBe(0);

    const credential = (JSON.parse(fs.readFileSync(path.join(agentDir, 'node.json'), 'utf8')) as { credential: string }).credential;
    const refused = await requestJson<{ code: string }>(`${serverUrl}/api/v1/nodes/${nodeId}`, { token: credential });
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe('FOGLINE_ERR_AUTH_REVOKED');

    // Retrying a revoked credential helps nobody: the agent stops and exits with EX_CONFIG (78).
    expect(await waitForExit(agent, SETTLE_MS)).toBe(78);
    expect(agent.output()).toMatch(/refuses node edge-a \(FOGLINE_ERR_AUTH_REVOKED: the node was deleted or its credential revoked\)/);
    expect(agent.output()).toContain(`delete ${path.join(agentDir, 'node.json')} and start the agent with --join-token`);
    const node = await nodeWhen((view) => view.status === 'offline');
    expect(node.id).toBe(nodeId);
    expect((await findToken(credentialId))?.revokedAt).not.toBeNull();
  });

  it('deletes the node with the CLI', async () => {
    const env = cleanFoglineEnv({ FOGLINE_SERVER: serverUrl, FOGLINE_TOKEN: adminToken });
    const deleted = await runFogline(['nodes', 'delete', 'edge-a'], env);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stdout).toContain(`Deleted node edge-a (${nodeId})`);

    expect(await listNodes()).toEqual([]);
    const gone = await runFogline(['nodes', 'get', nodeId], env);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/No node has the id or name/);
    expect(gone.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});

describe('an agent whose node is deleted while it runs (real processes)', { timeout: 90_000 }, () => {
  let cluster: TestCluster | undefined;

  afterAll(async () => {
    await cluster?.stop();
  });

  it('exits non-zero, then enrols again as it says once node.json is gone and it has a new join token', async () => {
    cluster = await TestCluster.start('deleted');
    const env = cleanFoglineEnv({ FOGLINE_SERVER: cluster.url, FOGLINE_TOKEN: cluster.adminToken });
    const joinToken = async () => {
      const created = await runFogline(['token', 'create', '--role', 'join', '--max-uses', '1', '--json'], env);
      expect(created.code, created.stderr).toBe(0);
      return (JSON.parse(created.stdout) as { token: string }).token;
    };
    const online = () =>
      eventually(async () => ((await runFogline(['nodes', 'get', 'edge-d'], env)).stdout.match(/online/) ? true : undefined), SETTLE_MS);
    const { process: agent, dataDir } = await cluster.startAgent('edge-d', { joinToken: await joinToken() });
    await online();

    const deleted = await runFogline(['nodes', 'delete', 'edge-d'], env);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(await waitForExit(agent, SETTLE_MS)).toBe(78);
    expect(agent.output()).toMatch(/refuses node edge-d \(FOGLINE_ERR_AUTH_REVOKED/);

    // What it said to do: delete node.json, start with a new join token.
    fs.rmSync(path.join(dataDir, 'node.json'));
    const { process: again } = await cluster.startAgent('edge-d', { joinToken: await joinToken() });
    await online();
    expect(again.child.exitCode).toBeNull();
  });
});
