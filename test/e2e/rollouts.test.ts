/**
 * Rollout strategies end to end, with real processes: a control plane on SQLite and three
 * agents at site=plant-a. A canary is promoted after its soak while requests keep flowing; a
 * canary that cannot load its version rolls back before the other nodes see it; `fogline
 * deploy rollback` returns to the good version before; `rolling` moves one node at a time.
 * Steps run in order and share one cluster.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeploymentView } from '../../src/contracts/deployments.js';
import type { ModelVersionView } from '../../src/contracts/models.js';
import type { RunView } from '../../src/contracts/runs.js';
import { parseTimeSeriesCsv } from '../../src/ml/timeseries/ingest.js';
import { findFile } from '../support/files.js';
import { cleanFoglineEnv, eventually, freePort, ProcessTracker, requestJson, runFogline, tempDir } from '../support/processes.js';

const PJME_TEXT = fs.readFileSync(fileURLToPath(new URL('../../data/energy/PJME_hourly_trimmed.csv', import.meta.url)), 'utf8');
const series = parseTimeSeriesCsv(PJME_TEXT, { timeColumn: 'Datetime', valueColumn: 'PJME_MW' });
const WINDOW = 168;
const REQUEST = {
  inputs: [
    { name: 'history', shape: [1, WINDOW], datatype: 'FP32', data: Array.from(series.values.subarray(series.values.length - WINDOW)) },
    { name: 'start_time', shape: [1], datatype: 'INT64', data: [series.start + series.values.length * series.intervalSeconds] },
  ],
};
const NODE_NAMES = ['edge-1', 'edge-2', 'edge-3'];

describe('rollouts (real processes)', { timeout: 180_000 }, () => {
  const serverDir = tempDir('rollout-server');
  const agentDirs = NODE_NAMES.map((name) => tempDir(`rollout-${name}`));
  const processes = new ProcessTracker();
  let serverUrl: string;
  let adminToken: string;
  const agentUrls = new Map<string, string>();

  const api = <T>(method: string, route: string, body?: unknown) =>
    requestJson<T>(`${serverUrl}${route}`, { method, token: adminToken, body, timeoutMs: 30_000 });
  const deployment = async (name: string) => (await api<DeploymentView>('GET', `/api/v1/deployments/${name}`)).body;
  const setAlias = async (alias: string, version: number) =>
    expect((await api('PUT', `/api/v1/models/energy/aliases/${alias}`, { version })).status).toBe(200);
  const cli = (args: string[]) => runFogline(args, cleanFoglineEnv({ FOGLINE_SERVER: serverUrl, FOGLINE_TOKEN: adminToken }));

  /** Resolves once every node serves what the rollout assigns it and the rollout is not moving. */
  const settled = (name: string, phase: DeploymentView['rollout']['phase'], version: number) =>
    eventually(async () => {
      const view = await deployment(name);
      const ok =
        view.rollout.phase === phase &&
        view.nodes.length === NODE_NAMES.length &&
        view.nodes.every((n) => n.assignedVersion === version && n.state === 'serving' && n.version === version);
      return ok ? view : undefined;
    }, 60_000);

  async function infer(node: string, model: string): Promise<string> {
    const { status, body } = await requestJson<{ model_version: string }>(`${agentUrls.get(node)}/v2/models/${model}/infer`, {
      method: 'POST',
      body: REQUEST,
      timeoutMs: 10_000,
    });
    if (status !== 200) throw new Error(`${node} answered ${status}: ${JSON.stringify(body)}`);
    return body.model_version;
  }

  async function trainVersion(seed: number): Promise<number> {
    const started = await api<RunView>('POST', '/api/v1/runs', {
      pipeline: 'forecast',
      dataset: 'pjme',
      model: 'energy',
      gate: 'none',
      params: { epochs: 1, hidden: [16], seed },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    const run = await eventually(async () => {
      const view = (await api<RunView>('GET', `/api/v1/runs/${started.body.id}`)).body;
      return view.status === 'succeeded' || view.status === 'failed' ? view : undefined;
    }, 120_000);
    expect(run.error).toBeNull();
    return run.registeredVersion as number;
  }

  beforeAll(async () => {
    const port = await freePort();
    serverUrl = `http://127.0.0.1:${port}`;
    const server = processes.start([
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
    await server.waitForOutput(/listening on (http:\/\/\S+)/, 30_000);
    adminToken = fs.readFileSync(path.join(serverDir, 'admin.token'), 'utf8').trim();
    const upload = await fetch(`${serverUrl}/api/v1/datasets/pjme/versions?timeColumn=Datetime&valueColumn=PJME_MW`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'text/csv' },
      body: PJME_TEXT,
    });
    expect(upload.status).toBe(201);
    for (const seed of [1, 2, 3]) expect(await trainVersion(seed)).toBe(seed);
    await setAlias('champion', 1);
    await setAlias('candidate', 1);
    const join = (await api<{ token: string }>('POST', '/api/v1/tokens', { name: 'plant-a', role: 'join', maxUses: 3 })).body.token;
    await Promise.all(
      NODE_NAMES.map(async (name, i) => {
        const agent = processes.start([
          'agent',
          ...['--server', serverUrl, '--name', name, '--labels', 'site=plant-a', '--data-dir', agentDirs[i]!],
          ...['--port', '0', '--log-level', 'warn', '--join-token', join],
        ]);
        const [, url] = await agent.waitForOutput(/serving on (http:\/\/\S+)/, 30_000);
        agentUrls.set(name, url!);
      }),
    );
    // Placement needs each node's first heartbeat (its free memory).
    await eventually(async () => {
      const { body } = await api<{ nodes: { status: string }[] }>('GET', '/api/v1/nodes');
      return body.nodes.filter((n) => n.status === 'online').length === 3 ? true : undefined;
    });
  }, 400_000);

  afterAll(async () => {
    await processes.stopAll();
    for (const dir of [serverDir, ...agentDirs]) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('canary: one node first, promoted after a healthy soak, with no failed request on any node', async () => {
    const created = await cli([
      'deploy',
      'create',
      ...['--name', 'energy', '--model', 'energy@champion', '--to', 'site=plant-a'],
      ...['--strategy', 'canary', '--canary-percent', '33', '--soak', '3s', '--wait', '--timeout', '60s'],
    ]);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/Strategy:\s+canary \(33% first, soak 3s/);
    await settled('energy', 'stable', 1);

    const failures: string[] = [];
    let stop = false;
    const loops = NODE_NAMES.map(async (node) => {
      while (!stop) {
        await infer(node, 'energy').catch((error: Error) => failures.push(error.message));
      }
    });
    await setAlias('champion', 2);
    const canary = await eventually(async () => {
      const view = await deployment('energy');
      return view.rollout.phase === 'soaking' ? view : undefined;
    }, 30_000);
    // During the soak exactly one node has version 2; the others keep version 1.
    expect(canary.nodes.map((n) => n.assignedVersion).sort()).toEqual([1, 1, 2]);
    expect(canary.rollout.updatedNodes).toHaveLength(1);
    const promoted = await settled('energy', 'stable', 2);
    stop = true;
    await Promise.all(loops);
    expect(failures).toEqual([]);
    expect(promoted.rollout.goodVersions).toEqual([1, 2]);
    expect(promoted.rollout.history.map((e) => e.event)).toEqual([
      'started',
      'completed',
      'started',
      'canary-healthy',
      'promoted',
      'completed',
    ]);
  });

  it('canary: a version the canary cannot load rolls back, and the other nodes never download it', async () => {
    const v3 = (await api<ModelVersionView>('GET', '/api/v1/models/energy/versions/3')).body;
    const stored = findFile(serverDir, v3.artifact.sha256);
    const original = fs.readFileSync(stored);
    const corrupt = Buffer.from(original);
    corrupt[Math.floor(corrupt.length / 2)]! ^= 0xff;
    fs.writeFileSync(stored, corrupt);
    try {
      await setAlias('champion', 3);
      const rolledBack = await eventually(async () => {
        const view = await deployment('energy');
        return view.rollout.phase === 'rolled-back' ? view : undefined;
      }, 30_000);
      expect(rolledBack.rollout).toMatchObject({ stableVersion: 2, targetVersion: 3, blockedVersions: [3] });
      expect(rolledBack.rollout.history.at(-1)?.message).toMatch(/version 3 rolled back to 2: node .* failed to serve it \(.*sha256/);
      await settled('energy', 'rolled-back', 2);
      const canaryNode = rolledBack.rollout.history.at(-1)?.message.match(/node (\S+) failed/)?.[1];
      const others = rolledBack.nodes.filter((n) => n.nodeId !== canaryNode);
      expect(others).toHaveLength(2);
      for (const node of others) {
        expect(node.version).toBe(2);
        const artifacts = path.join(agentDirs[NODE_NAMES.indexOf(node.nodeName)]!, 'artifacts');
        expect(fs.readdirSync(artifacts).filter((file) => file.startsWith(v3.artifact.sha256))).toEqual([]);
      }
      for (const node of NODE_NAMES) expect(await infer(node, 'energy')).toBe('2');
    } finally {
      fs.writeFileSync(stored, original);
    }
  });

  it('fogline deploy rollback returns to the good version before, and says so when there is none', async () => {
    const rolled = await cli(['deploy', 'rollback', 'energy', '--wait', '--timeout', '60s']);
    expect(rolled.code, rolled.stderr).toBe(0);
    expect(rolled.stdout).toMatch(/Rollout:\s+rolled back to v1/);
    await settled('energy', 'rolled-back', 1);
    for (const node of NODE_NAMES) expect(await infer(node, 'energy')).toBe('1');
    const again = await cli(['deploy', 'rollback', 'energy']);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/cannot roll back: no good version before 1/);
    // Moving the alias on starts a rollout again.
    await setAlias('champion', 2);
    await settled('energy', 'stable', 2);
  });

  it('rolling: never more than one node between versions at a time', async () => {
    const created = await api('POST', '/api/v1/deployments', {
      name: 'energy-rolling',
      model: 'energy@candidate',
      nodeSelector: { site: 'plant-a' },
      strategy: 'rolling',
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    await settled('energy-rolling', 'stable', 1);
    await setAlias('candidate', 2);
    let mostInFlight = 0;
    let sawPartial = false;
    await eventually(
      async () => {
        const view = await deployment('energy-rolling');
        const moved = view.nodes.filter((n) => n.assignedVersion === 2);
        const inFlight = moved.filter((n) => !(n.state === 'serving' && n.version === 2)).length;
        mostInFlight = Math.max(mostInFlight, inFlight);
        if (moved.length > 0 && moved.length < 3) sawPartial = true;
        return view.rollout.phase === 'stable' && view.rollout.stableVersion === 2 ? view : undefined;
      },
      60_000,
      25,
    );
    expect(sawPartial).toBe(true);
    expect(mostInFlight).toBeLessThanOrEqual(1);
    for (const node of NODE_NAMES) expect(await infer(node, 'energy-rolling')).toBe('2');
  });
});
