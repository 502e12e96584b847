/**
 * Rollout strategies end to end, with real processes: a control plane on SQLite and three
 * agents at site=plant-a. A canary is promoted after its soak while requests keep flowing; a
 * canary that cannot load its version rolls back before the other nodes see it; `fogline
 * deploy rollback` returns to the good version before; `rolling` moves one node at a time.
 * Steps run in order and share one cluster.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeploymentView } from '../../src/contracts/deployments.js';
import type { ModelVersionView } from '../../src/contracts/models.js';
import { TestCluster } from '../support/cluster.js';
import { findFile } from '../support/files.js';
import { cleanFoglineEnv, eventually, runFogline } from '../support/processes.js';

const NODE_NAMES = ['edge-1', 'edge-2', 'edge-3'];

describe('rollouts (real processes)', { timeout: 180_000 }, () => {
  let cluster: TestCluster;

  const api = <T>(method: string, route: string, body?: unknown) => cluster.api<T>(method, route, body);
  const deployment = async (name: string) => (await api<DeploymentView>('GET', `/api/v1/deployments/${name}`)).body;
  const setAlias = (alias: string, version: number) => cluster.setAlias('energy', alias, version);
  const infer = (node: string, model: string) => cluster.infer(node, model);
  const cli = (args: string[]) => runFogline(args, cleanFoglineEnv({ FOGLINE_SERVER: cluster.url, FOGLINE_TOKEN: cluster.adminToken }));

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

  beforeAll(async () => {
    cluster = await TestCluster.start('rollout');
    await cluster.uploadPjme();
    for (const seed of [1, 2, 3]) expect(await cluster.trainForecaster({ seed })).toBe(seed);
    await setAlias('champion', 1);
    await setAlias('candidate', 1);
    const joinToken = await cluster.joinToken(3);
    await Promise.all(NODE_NAMES.map((name) => cluster.startAgent(name, { labels: 'site=plant-a', joinToken })));
    // Placement needs each node's first heartbeat (its free memory).
    await cluster.nodesOnline(3);
  }, 400_000);

  afterAll(async () => {
    await cluster?.stop();
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
    const stored = findFile(cluster.serverDir, v3.artifact.sha256);
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
        const artifacts = path.join(cluster.agents.get(node.nodeName)!.dataDir, 'artifacts');
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
