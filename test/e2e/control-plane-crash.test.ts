/**
 * `kill -9` of the control plane in the middle of everything at once — a canary rollout soaking,
 * a pipeline run training, a burst of enrolments — then a restart on the same data dir: no
 * half-written rows, the run is failed (never left running), the rollout carries on from its
 * stored state and promotes, and every enrolment is either whole or absent.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/client/api-client.js';
import type { DeploymentView } from '../../src/contracts/deployments.js';
import type { RunView } from '../../src/contracts/runs.js';
import { eventually, freePort, ProcessTracker, requestJson, tempDir, type FoglineProcess } from '../support/processes.js';

const PJME_TEXT = fs.readFileSync(fileURLToPath(new URL('../../data/energy/PJME_hourly_trimmed.csv', import.meta.url)), 'utf8');

describe('control plane killed with SIGKILL mid-work', { timeout: 240_000 }, () => {
  const serverDir = tempDir('crash-server');
  const agentDirs = ['edge-1', 'edge-2'].map((name) => tempDir(`crash-${name}`));
  const processes = new ProcessTracker();
  let port: number;
  let serverUrl: string;
  let adminToken: string;
  let server: FoglineProcess;

  const api = <T>(method: string, route: string, body?: unknown) =>
    requestJson<T>(`${serverUrl}${route}`, { method, token: adminToken, body, timeoutMs: 30_000 });

  async function startServer(): Promise<FoglineProcess> {
    const proc = processes.start([
      'server',
      '--data-dir',
      serverDir,
      '--port',
      String(port),
      '--heartbeat-interval',
      '1',
      '--log-level',
      'warn',
    ]);
    await proc.waitForOutput(/listening on/, 30_000);
    return proc;
  }

  async function startRun(epochs: number, seed: number): Promise<string> {
    const started = await api<RunView>('POST', '/api/v1/runs', {
      pipeline: 'forecast',
      dataset: 'pjme',
      model: 'energy',
      gate: 'none',
      params: { epochs, hidden: [16], seed },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    return started.body.id;
  }

  const runOf = async (id: string) => (await api<RunView>('GET', `/api/v1/runs/${id}`)).body;
  const finished = (id: string) =>
    eventually(async () => {
      const run = await runOf(id);
      return run.status === 'succeeded' || run.status === 'failed' ? run : undefined;
    }, 120_000);

  beforeAll(async () => {
    port = await freePort();
    serverUrl = `http://127.0.0.1:${port}`;
    server = await startServer();
    adminToken = fs.readFileSync(path.join(serverDir, 'admin.token'), 'utf8').trim();
    const upload = await fetch(`${serverUrl}/api/v1/datasets/pjme/versions?timeColumn=Datetime&valueColumn=PJME_MW`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'text/csv' },
      body: PJME_TEXT,
    });
    expect(upload.status).toBe(201);
    for (const seed of [1, 2]) expect((await finished(await startRun(1, seed))).registeredVersion).toBe(seed);
    expect((await api('PUT', '/api/v1/models/energy/aliases/champion', { version: 1 })).status).toBe(200);
    const join = (await api<{ token: string }>('POST', '/api/v1/tokens', { name: 'plant', role: 'join', maxUses: 2 })).body.token;
    await Promise.all(
      agentDirs.map(async (dir, i) => {
        const agent = processes.start([
          'agent',
          ...['--server', serverUrl, '--name', `edge-${i + 1}`, '--labels', 'site=plant-a', '--data-dir', dir],
          ...['--port', '0', '--log-level', 'warn', '--join-token', join],
        ]);
        await agent.waitForOutput(/serving on/, 30_000);
      }),
    );
    await eventually(async () => {
      const { body } = await api<{ nodes: { status: string }[] }>('GET', '/api/v1/nodes');
      return body.nodes.filter((n) => n.status === 'online').length === 2 ? true : undefined;
    });
  }, 300_000);

  afterAll(async () => {
    await processes.stopAll();
    for (const dir of [serverDir, ...agentDirs]) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('restarts into a consistent state and carries on', async () => {
    const created = await api('POST', '/api/v1/deployments', {
      name: 'energy',
      model: 'energy@champion',
      nodeSelector: { site: 'plant-a' },
      strategy: 'canary',
      canaryPercent: 50,
      soakSeconds: 8,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    await eventually(async () => {
      const view = (await api<DeploymentView>('GET', '/api/v1/deployments/energy')).body;
      return view.rollout.phase === 'stable' && view.nodes.every((n) => n.state === 'serving' && n.version === 1) ? view : undefined;
    }, 60_000);

    // Everything in flight at once: a canary soaking, a long training run, enrolments.
    expect((await api('PUT', '/api/v1/models/energy/aliases/champion', { version: 2 })).status).toBe(200);
    await eventually(async () => {
      const view = (await api<DeploymentView>('GET', '/api/v1/deployments/energy')).body;
      return view.rollout.phase === 'soaking' ? view : undefined;
    }, 30_000);
    const run = await startRun(50, 3);
    await eventually(async () => ((await runOf(run)).status === 'running' ? true : undefined), 30_000, 50);
    const join = (
      await api<{ token: string; info: { id: string } }>('POST', '/api/v1/tokens', { name: 'burst', role: 'join', maxUses: 40 })
    ).body;
    const client = new ApiClient({ server: serverUrl });
    const enrolments = Array.from({ length: 30 }, (_, i) =>
      client.enroll(join.token, { name: `burst-${i}`, role: 'edge' }).then(
        () => 'ok',
        () => 'lost',
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 30));
    server.child.kill('SIGKILL');
    await server.exited;
    const outcomes = await Promise.all(enrolments);

    server = await startServer();
    // The run did not survive its process: failed with a reason, never left running, nothing registered.
    const after = await finished(run);
    expect(after.status).toBe('failed');
    expect(after.error).toMatch(/stopped during this run/);
    const versions = (await api<{ versions: { version: number }[] }>('GET', '/api/v1/models/energy/versions')).body.versions;
    expect(versions.map((v) => v.version).sort()).toEqual([1, 2]);

    // Enrolments: each one either whole (node + credential + one use of the token) or absent.
    const nodes = (await api<{ nodes: { name: string }[] }>('GET', '/api/v1/nodes')).body.nodes.filter((n) => n.name.startsWith('burst-'));
    const tokens = (await api<{ tokens: { id: string; uses: number }[] }>('GET', '/api/v1/tokens')).body.tokens;
    expect(tokens.find((t) => t.id === join.info.id)?.uses).toBe(nodes.length);
    expect(nodes.length).toBeGreaterThanOrEqual(outcomes.filter((o) => o === 'ok').length);

    // The rollout resumes from its stored state: the soak finishes and every node gets version 2.
    const done = await eventually(async () => {
      const view = (await api<DeploymentView>('GET', '/api/v1/deployments/energy')).body;
      const placed = view.nodes.filter((n) => n.assignedVersion !== null);
      return view.rollout.phase === 'stable' && placed.length === 2 && placed.every((n) => n.state === 'serving' && n.version === 2)
        ? view
        : undefined;
    }, 90_000);
    expect(done.rollout.history.map((e) => e.event)).toEqual([
      'started',
      'completed',
      'started',
      'canary-healthy',
      'promoted',
      'completed',
    ]);
  });
});
