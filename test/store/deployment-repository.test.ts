import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeploymentRepository } from '../../src/deployments/deployment-repository.js';
import { advanceRollout } from '../../src/deployments/rollout.js';
import { TokenRepository } from '../../src/auth/token-repository.js';
import { NodeRegistry } from '../../src/nodes/node-registry.js';
import { type Store } from '../../src/store/store.js';
import { DIALECTS, type MigratedTestStore, migratedTestStore } from '../support/databases.js';

const POLICY = { strategy: 'canary' as const, canaryPercent: 25, soakMs: 30_000, maxErrorRate: 0.05 };
const ALL_POLICY = { strategy: 'all' as const, canaryPercent: 20, soakMs: 60_000, maxErrorRate: 0.01 };

// Rollout state, node counters, the offload policy and joint inference as each database keeps them.
describe.each(DIALECTS)('deployment repository on %s', (dialect) => {
  let database: MigratedTestStore;
  let store: Store;
  let repository: DeploymentRepository;
  let nodes: NodeRegistry;
  let clock = Date.UTC(2026, 10, 23, 8, 0, 0);

  beforeEach(async () => {
    database = await migratedTestStore(dialect);
    store = database.store;
    repository = new DeploymentRepository(store.db, () => clock);
    nodes = new NodeRegistry(store.db, new TokenRepository(store.db), 45_000, () => clock);
    // Reports are read only for nodes that exist.
    for (const id of ['node-a', 'node-b']) await nodes.insert({ id, name: id, role: 'edge', labels: {} });
  });

  afterEach(async () => {
    await database.close();
  });

  it('keeps the policy and the first rollout step, and stores a step only against the revision it read', async () => {
    const created = await repository.create({
      name: 'energy',
      modelSelector: 'energy@champion',
      nodeSelector: { site: 'plant-a' },
      policy: POLICY,
      firstVersion: 4,
      createdBy: null,
    });
    expect(created).toMatchObject({ ...POLICY, rolloutRevision: 0, rollout: { phase: 'updating', targetVersion: 4 } });
    clock += 1000;
    const next = advanceRollout(created.rollout, created, { now: clock, resolvedVersion: 4, placedNodes: [], reports: new Map() });
    expect(next.phase).toBe('stable');
    expect(await repository.saveRollout(created, next)).toBe(true);
    // A second writer that read the same revision loses, and changes nothing.
    expect(await repository.saveRollout(created, { ...next, phase: 'rolled-back' })).toBe(false);
    const stored = await repository.get('energy');
    expect(stored.rolloutRevision).toBe(1);
    expect(stored.rollout).toEqual(next);
    expect(stored.maxErrorRate).toBeCloseTo(0.05);
  });

  it('stores a preferred canary with the rollout, bumping the revision so a rollout step read before it is refused', async () => {
    const created = await repository.create({
      name: 'energy',
      modelSelector: 'energy@champion',
      nodeSelector: {},
      policy: POLICY,
      firstVersion: 1,
      createdBy: null,
    });
    await repository.preferCanary('energy', 2, ['node-b']);
    const stored = await repository.get('energy');
    expect(stored.rollout.preferredCanary).toEqual({ version: 2, nodes: ['node-b'] });
    expect(stored.rolloutRevision).toBe(created.rolloutRevision + 1);
    expect(await repository.saveRollout(created, { ...created.rollout, phase: 'stable' })).toBe(false);
    expect((await repository.get('energy')).rollout.preferredCanary).toEqual({ version: 2, nodes: ['node-b'] });
  });

  it('records node reports with their request counters, replacing the last one, and ignores unknown deployments', async () => {
    await repository.create({
      name: 'energy',
      modelSelector: 'energy',
      nodeSelector: {},
      policy: POLICY,
      firstVersion: 1,
      createdBy: null,
    });
    await repository.recordStatus('node-a', {
      deployments: [
        {
          name: 'energy',
          version: 1,
          state: 'serving',
          servingVersion: 1,
          requests: 9_000_000_000,
          errors: 3,
          latencyP50Ms: 0.75,
          latencyP99Ms: 12.5,
          localRequests: 8_999_999_000,
          offloadedRequests: 1_000,
        },
        { name: 'gone', version: 1, state: 'serving' },
      ],
    });
    await repository.recordStatus('node-b', { deployments: [{ name: 'energy', version: 1, state: 'loading' }] });
    await repository.recordStatus('node-b', { deployments: [{ name: 'energy', version: 1, state: 'failed', reason: 'sha256 mismatch' }] });
    const all = await repository.allStatuses();
    expect([...all.keys()]).toEqual(['energy']);
    const byNode = Object.fromEntries(all.get('energy')!.map((s) => [s.nodeId, s]));
    expect(byNode['node-a']).toMatchObject({ version: 1, servingVersion: 1, state: 'serving', requests: 9_000_000_000, errors: 3 });
    expect(byNode['node-a']).toMatchObject({ latencyP50Ms: 0.75, latencyP99Ms: 12.5 });
    expect(byNode['node-a']).toMatchObject({ localRequests: 8_999_999_000, offloadedRequests: 1_000 });
    expect(byNode['node-b']).toMatchObject({ localRequests: 0, offloadedRequests: 0 });
    expect(byNode['node-b']).toMatchObject({ state: 'failed', reason: 'sha256 mismatch', requests: 0, errors: 0, latencyP50Ms: null });
    await repository.delete('energy');
    expect((await repository.allStatuses()).size).toBe(0);
  });

  it('does not read the reports of a deleted node: they go with it, and one written as it was deleted is not shown', async () => {
    await repository.create({
      name: 'energy',
      modelSelector: 'energy',
      nodeSelector: {},
      policy: POLICY,
      firstVersion: 1,
      createdBy: null,
    });
    for (const node of ['node-a', 'node-b']) {
      await repository.recordStatus(node, { deployments: [{ name: 'energy', version: 1, state: 'serving', servingVersion: 1 }] });
    }
    await nodes.delete('node-b');
    expect((await repository.statuses('energy')).map((s) => s.nodeId)).toEqual(['node-a']);
    // A report that passed authentication just before the node was deleted, and was stored after.
    await repository.recordStatus('node-b', { deployments: [{ name: 'energy', version: 1, state: 'serving', servingVersion: 1 }] });
    expect((await repository.statuses('energy')).map((s) => s.nodeId)).toEqual(['node-a']);
    expect([...(await repository.allStatuses()).values()].flat().map((s) => s.nodeId)).toEqual(['node-a']);
    expect(await repository.statusOf('energy', 'node-b')).toBeUndefined();
  });

  // The offload policy (migration 0009).
  it('defaults to edge-only with a 50 ms target, and keeps what it is given', async () => {
    const plain = await repository.create({
      name: 'plain',
      modelSelector: 'energy',
      nodeSelector: {},
      policy: ALL_POLICY,
      firstVersion: 1,
      createdBy: null,
    });
    expect(plain).toMatchObject({ offload: 'edge-only', latencyTargetMs: 50 });
    await repository.create({
      name: 'offloading',
      modelSelector: 'energy@champion',
      nodeSelector: { site: 'plant-a' },
      policy: ALL_POLICY,
      offload: { policy: 'auto', latencyTargetMs: 120 },
      firstVersion: 1,
      createdBy: null,
    });
    await repository.create({
      name: 'cloudy',
      modelSelector: 'energy',
      nodeSelector: {},
      policy: ALL_POLICY,
      offload: { policy: 'cloud-only', latencyTargetMs: 50 },
      firstVersion: 1,
      createdBy: null,
    });
    const byName = Object.fromEntries((await repository.list()).map((d) => [d.name, d]));
    expect(byName['offloading']).toMatchObject({ offload: 'auto', latencyTargetMs: 120 });
    expect(byName['cloudy']).toMatchObject({ offload: 'cloud-only', latencyTargetMs: 50 });
  });

  // Joint inference (migration 0013): the setting per deployment and each node's counts.
  it('keeps a joint setting (none by default) and the counts each node reports', async () => {
    const plain = await repository.create({
      name: 'plain',
      modelSelector: 'digits',
      nodeSelector: {},
      policy: ALL_POLICY,
      firstVersion: 1,
      createdBy: null,
    });
    expect(plain.joint).toBeNull();
    const joint = { cloudModel: 'digits-large@champion', rule: 'entropy' as const, threshold: 0.125 };
    await repository.create({
      name: 'digits',
      modelSelector: 'digits-small',
      nodeSelector: {},
      policy: ALL_POLICY,
      joint,
      firstVersion: 1,
      createdBy: null,
    });
    expect((await repository.get('digits')).joint).toEqual(joint);

    const counts = { easy: 9_000_000_000, hard: 12, fallback: 3, labelled: 40, edgeCorrect: 30, finalCorrect: 37 };
    await repository.recordStatus('node-a', { deployments: [{ name: 'digits', version: 1, state: 'serving', joint: counts }] });
    await repository.recordStatus('node-b', { deployments: [{ name: 'digits', version: 1, state: 'serving' }] });
    const byNode = Object.fromEntries((await repository.statuses('digits')).map((s) => [s.nodeId, s]));
    expect(byNode['node-a']?.joint).toEqual(counts);
    expect(byNode['node-b']?.joint).toBeNull();
  });
});
