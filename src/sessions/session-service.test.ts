import { afterEach, describe, expect, it } from 'vitest';
import type { DeploymentView } from '../contracts/deployments.js';
import type { NodeView } from '../contracts/nodes.js';
import { ChangeSignal } from '../deployments/change-signal.js';
import { DeploymentRepository } from '../deployments/deployment-repository.js';
import type { DesiredStateService } from '../deployments/desired-state.js';
import { OnDemandPlacements } from '../deployments/on-demand-placements.js';
import { TokenRepository } from '../auth/token-repository.js';
import { NodeRegistry } from '../nodes/node-registry.js';
import type { ModelRegistry } from '../registry/model-registry.js';
import { migrateToLatest, openStore, type Store } from '../store/store.js';
import { DEFAULT_SESSION_SETTINGS, SessionService } from './session-service.js';

const GiB = 1024 ** 3;

function node(
  name: string,
  options: { load?: number; free?: number; labels?: Record<string, string>; status?: 'online' | 'offline' } = {},
): NodeView {
  return {
    id: `id-${name}`,
    name,
    role: 'edge',
    labels: options.labels ?? {},
    status: options.status ?? 'online',
    cordoned: false,
    lastHeartbeatAt: null,
    heartbeatAgeSeconds: 1,
    resources: {
      cpuCount: 2,
      loadAverage: [options.load ?? 0.2, 0, 0],
      memoryTotalBytes: 4 * GiB,
      memoryFreeBytes: (options.free ?? 0.5) * 4 * GiB,
      diskTotalBytes: 1,
      diskFreeBytes: 1,
      gpus: [],
    },
    agent: { version: '0', os: 'linux', arch: 'x64', hostname: name, inferenceUrl: `http://${name}:7071` },
    inferenceUrl: `http://${name}:7071`,
    enrolledAt: new Date(0).toISOString(),
  } as NodeView;
}

const stores: Store[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

async function service(nodes: NodeView[], kind = 'forecaster', maxPerNode = 2) {
  const view = {
    nodes: nodes.map((n) => ({ nodeId: n.id, nodeName: n.name, state: 'serving', servingVersion: 3, assignedVersion: 3 })),
  } as unknown as DeploymentView;
  const store = openStore('sqlite::memory:');
  stores.push(store);
  await migrateToLatest(store);
  return new SessionService(
    {
      db: store.db,
      deployments: {
        get: async (name: string) => ({ name, modelSelector: 'energy@champion', nodeSelector: {} }),
      } as unknown as DeploymentRepository,
      desiredState: { view: async () => view } as unknown as DesiredStateService,
      nodes: { list: async () => nodes } as unknown as NodeRegistry,
      models: { resolve: async () => ({ model: 'energy', version: 3, kind, artifact: { sizeBytes: 1000 } }) } as unknown as ModelRegistry,
      onDemand: new OnDemandPlacements(store.db),
      changes: new ChangeSignal(),
      signBytes: () => 'sig',
    },
    { ...DEFAULT_SESSION_SETTINGS, maxPerNode },
  );
}

describe('session placement', () => {
  it('prefers the node with the fewest sessions and least load, and goes to the cloud when all are full', async () => {
    const sessions = await service([node('busy', { load: 3 }), node('calm', { load: 0.1 })]);
    const opened = [];
    for (let i = 0; i < 5; i++) opened.push((await sessions.open({ model: 'energy', kind: 'scalar' }, 'http://cp:7070')).session);
    expect(opened.map((s) => s.nodeName)).toEqual(['calm', 'busy', 'calm', 'busy', null]);
    expect(opened[4]).toMatchObject({ placement: 'cloud', reason: expect.stringMatching(/busy full \(2 sessions\), calm full/) });
    // A closed session frees its place.
    await sessions.record('id-calm', opened[0]!.id, 'closed');
    expect((await sessions.open({ model: 'energy', kind: 'scalar' }, 'http://cp:7070')).session.nodeName).toBe('calm');
  });

  it('skips nodes short of memory, overloaded, offline or outside the selector; the cloud URL names the version', async () => {
    const sessions = await service([
      node('low-memory', { free: 0.01 }),
      node('overloaded', { load: 9 }),
      node('away', { status: 'offline' }),
      node('elsewhere', { labels: { site: 'b' } }),
    ]);
    const opened = await sessions.open({ model: 'energy', kind: 'scalar', nodeSelector: { site: 'a' } }, 'https://cp:7070');
    expect(opened.session.placement).toBe('cloud');
    expect(opened.url).toMatch(/^wss:\/\/cp:7070\/v2\/models\/energy\/versions\/3\/stream\?session=fss1\./);
    const any = await sessions.open({ model: 'energy', kind: 'scalar' }, 'http://cp:7070');
    expect(any.session).toMatchObject({ nodeName: 'elsewhere' });
    expect(any.url).toMatch(/^ws:\/\/elsewhere:7071\/v2\/models\/energy\/stream\?session=/);
    const none = await service([node('low-memory', { free: 0.01 }), node('overloaded', { load: 9 }), node('away', { status: 'offline' })]);
    expect((await none.open({ model: 'energy', kind: 'scalar' }, 'http://cp')).session.reason).toBe(
      'no node can take it: low-memory short of resources, overloaded short of resources, away offline',
    );
  });

  it('refuses a kind that does not fit the model, and a report from another node', async () => {
    await expect((await service([], 'image-classifier')).open({ model: 'digits', kind: 'scalar' }, 'http://cp')).rejects.toMatchObject({
      code: 'FOGLINE_ERR_SESSION_KIND_MISMATCH',
    });
    const sessions = await service([node('a')]);
    const { session } = await sessions.open({ model: 'energy', kind: 'scalar' }, 'http://cp');
    await expect(sessions.record('id-b', session.id, 'connected')).rejects.toMatchObject({ code: 'FOGLINE_ERR_NODE_NOT_ASSIGNED' });
    await expect(sessions.record('id-a', 'ses_nope', 'connected')).rejects.toThrow(/No session/);
    expect((await sessions.record('id-a', session.id, 'connected')).state).toBe('connected');
  });
});

describe('loading on demand', () => {
  /** A service over a real (in-memory) store whose one deployment, `energy`, targets no node; `loads` says whether a node placed on demand gets to serve it (or keeps loading, or fails). */
  async function onDemandService(nodes: NodeView[], loads: boolean | 'failed', settings: Partial<typeof DEFAULT_SESSION_SETTINGS> = {}) {
    const store = openStore('sqlite::memory:');
    stores.push(store);
    await migrateToLatest(store);
    const deployments = new DeploymentRepository(store.db);
    await deployments.create({
      name: 'energy',
      modelSelector: 'energy@champion',
      nodeSelector: { site: 'nowhere' },
      policy: { strategy: 'all', canaryPercent: 20, soakMs: 60_000, maxErrorRate: 0.01 },
      firstVersion: 3,
      createdBy: null,
    });
    // Reports are read only for nodes that exist.
    const registry = new NodeRegistry(store.db, new TokenRepository(store.db), 60_000);
    for (const n of nodes) await registry.insert({ id: n.id, name: n.name, role: n.role, labels: n.labels });
    const clock = { now: Date.now() };
    const state = loads === 'failed' ? 'failed' : loads ? 'serving' : 'loading';
    // A node placed on demand reports at once what it made of it: serving (or loading, forever, or failed).
    class ReportingPlacements extends OnDemandPlacements {
      override async add(deployment: string, nodeId: string): Promise<boolean> {
        const added = await super.add(deployment, nodeId);
        await deployments.recordStatus(nodeId, {
          deployments: [
            {
              name: deployment,
              version: 3,
              state,
              servingVersion: loads === true ? 3 : null,
              ...(loads === 'failed' ? { reason: 'signature mismatch' } : {}),
            },
          ],
        });
        return added;
      }
    }
    const onDemand = new ReportingPlacements(store.db, () => clock.now);
    const changes = new ChangeSignal();
    // Desired state as far as sessions see it: a node placed on demand reports serving (or loading, forever).
    const view = async () => ({
      nodes: (await onDemand.list()).map((p) => ({
        nodeId: p.nodeId,
        state,
        servingVersion: loads === true ? 3 : null,
        version: 3,
        assignedVersion: 3,
        reason: loads === 'failed' ? 'signature mismatch' : null,
        updatedAt: new Date().toISOString(),
      })),
    });
    const sessions = new SessionService(
      {
        db: store.db,
        deployments,
        desiredState: { view } as unknown as DesiredStateService,
        nodes: { list: async () => nodes } as unknown as NodeRegistry,
        models: {
          resolve: async () => ({ model: 'energy', version: 3, kind: 'forecaster', artifact: { sizeBytes: 1000 } }),
        } as unknown as ModelRegistry,
        onDemand,
        changes,
        signBytes: () => 'sig',
      },
      { ...DEFAULT_SESSION_SETTINGS, maxPerNode: 1, releaseAfterMs: 60_000, ...settings },
      () => clock.now,
    );
    return { sessions, onDemand, changes, clock };
  }

  it('places the deployment on a matching node, waits for it to serve, and releases it an idle period after the last session', async () => {
    const { sessions, onDemand, changes, clock } = await onDemandService(
      [node('a', { labels: { site: 'x' } }), node('b', { load: 1 })],
      true,
    );
    const before = changes.generation;
    const opened = await sessions.open({ model: 'energy', kind: 'scalar', nodeSelector: { site: 'x' } }, 'http://cp');
    expect(opened.session).toMatchObject({ placement: 'edge', nodeName: 'a' });
    expect(opened.session.reason).toMatch(/^a loaded energy on demand in [\d.]+ s \(no node serving it can take the session/);
    expect(opened.url).toMatch(/^ws:\/\/a:7071\/v2\/models\/energy\/stream\?session=/);
    expect(changes.generation).toBeGreaterThan(before);
    expect(await onDemand.byDeployment()).toEqual(new Map([['energy', ['id-a']]]));

    // Open: the placement stays, however long it lasts.
    await sessions.record('id-a', opened.session.id, 'connected');
    clock.now += 120_000;
    await sessions.sweep();
    expect((await onDemand.list()).map((p) => p.nodeId)).toEqual(['id-a']);
    await sessions.record('id-a', opened.session.id, 'closed');
    clock.now += 30_000;
    await sessions.sweep();
    expect((await onDemand.list()).map((p) => p.nodeId)).toEqual(['id-a']);
    clock.now += 31_000;
    const generation = changes.generation;
    await sessions.sweep();
    expect(await onDemand.list()).toEqual([]);
    expect(changes.generation).toBeGreaterThan(generation);
  });

  it('goes to the cloud with the reason when the load does not finish in time', async () => {
    const { sessions } = await onDemandService([node('a')], false, { loadTimeoutMs: 300 });
    const opened = await sessions.open({ model: 'energy', kind: 'scalar' }, 'http://cp');
    expect(opened.session).toMatchObject({ placement: 'cloud', nodeId: null, state: 'pending' });
    expect(opened.session.reason).toMatch(/^loading energy on a did not finish within 0.3 s: the cloud/);
    expect(opened.url).toMatch(/^ws:\/\/cp\/v2\/models\/energy\/versions\/3\/stream/);
    expect((await sessions.list()).map((s) => s.placement)).toEqual(['cloud']);
  });

  it('goes to the cloud at once when the node fails to load it', async () => {
    const { sessions } = await onDemandService([node('a')], 'failed');
    const opened = await sessions.open({ model: 'energy', kind: 'scalar' }, 'http://cp');
    expect(opened.session).toMatchObject({ placement: 'cloud', nodeId: null });
    expect(opened.session.reason).toMatch(/^loading energy on a failed \(signature mismatch\): the cloud/);
  });

  it('does not load on demand when turned off, and closes the sessions of a node that goes offline', async () => {
    const off = await onDemandService([node('a')], true, { loadTimeoutMs: 0 });
    expect((await off.sessions.open({ model: 'energy', kind: 'scalar' }, 'http://cp')).session.placement).toBe('cloud');
    expect(await off.onDemand.list()).toEqual([]);

    const nodes = [node('a')];
    const { sessions } = await onDemandService(nodes, true);
    const { session } = await sessions.open({ model: 'energy', kind: 'scalar' }, 'http://cp');
    expect(session.nodeName).toBe('a');
    nodes[0] = node('a', { status: 'offline' });
    await sessions.sweep();
    expect(await sessions.get(session.id)).toMatchObject({ state: 'closed', closeReason: 'node offline' });
  });
});
