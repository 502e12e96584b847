import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeploymentRepository } from '../../src/deployments/deployment-repository.js';
import { OnDemandPlacements } from '../../src/deployments/on-demand-placements.js';
import { type SessionRecord, SessionRepository } from '../../src/sessions/session-repository.js';
import { openStore, type Store } from '../../src/store/store.js';
import { DIALECTS, type MigratedTestStore, migratedTestStore } from '../support/databases.js';

const POLICY = { strategy: 'all' as const, canaryPercent: 20, soakMs: 60_000, maxErrorRate: 0.01 };
const T0 = 1_700_000_000_000;

function session(id: string, overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id,
    model: 'energy',
    kind: 'scalar',
    placement: 'edge',
    nodeId: 'node-a',
    nodeName: 'edge-a',
    state: 'pending',
    reason: 'edge-a serves energy with room (0 of 8 sessions)',
    createdAt: T0,
    expiresAt: T0 + 60_000,
    connectedAt: null,
    closedAt: null,
    closeReason: null,
    ...overrides,
  };
}

// Inference sessions and on-demand placements (migration 0014) as each database keeps them.
describe.each(DIALECTS)('inference sessions on %s', (dialect) => {
  let database: MigratedTestStore;
  let store: Store;
  let sessions: SessionRepository;

  beforeEach(async () => {
    database = await migratedTestStore(dialect);
    store = database.store;
    sessions = new SessionRepository(store.db);
  });

  afterEach(async () => {
    await database.close();
  });

  it('keeps sessions across a reopened store, counts open ones per node and moves them pending → connected → closed only', async () => {
    await sessions.insert(session('ses_1'));
    await sessions.insert(session('ses_2', { createdAt: T0 + 1 }));
    await sessions.insert(session('ses_3', { nodeId: 'node-b', nodeName: 'edge-b', createdAt: T0 + 2 }));
    await sessions.insert(session('ses_4', { placement: 'cloud', nodeId: null, nodeName: null, createdAt: T0 + 3 }));

    // A second store on the same database (a restarted control plane) sees them all.
    const reopened = openStore(database.url);
    try {
      const again = new SessionRepository(reopened.db);
      expect((await again.list()).map((s) => s.id)).toEqual(['ses_1', 'ses_2', 'ses_3', 'ses_4']);
      expect(await again.openPerNode()).toEqual(
        new Map([
          ['node-a', 2],
          ['node-b', 1],
        ]),
      );
      expect(await again.get('ses_4')).toEqual(session('ses_4', { placement: 'cloud', nodeId: null, nodeName: null, createdAt: T0 + 3 }));
    } finally {
      await reopened.close();
    }

    expect(await sessions.markConnected('ses_1', T0 + 10)).toBe(true);
    expect(await sessions.markConnected('ses_1', T0 + 20)).toBe(false);
    expect(await sessions.close(['ses_1', 'ses_2'], 'disconnected', T0 + 30)).toBe(2);
    // Closing again, or connecting a closed one, changes nothing.
    expect(await sessions.close(['ses_1'], 'idle timeout', T0 + 40)).toBe(0);
    expect(await sessions.markConnected('ses_2', T0 + 40)).toBe(false);
    expect(await sessions.updatePending('ses_2', { placement: 'cloud' })).toBe(false);
    expect(await sessions.get('ses_1')).toMatchObject({
      state: 'closed',
      connectedAt: T0 + 10,
      closedAt: T0 + 30,
      closeReason: 'disconnected',
    });
    expect(await sessions.openPerNode()).toEqual(new Map([['node-b', 1]]));
    expect((await sessions.list()).map((s) => s.id)).toEqual(['ses_3', 'ses_4']);
    expect((await sessions.list(true)).map((s) => s.id)).toEqual(['ses_1', 'ses_2', 'ses_3', 'ses_4']);
    await expect(sessions.get('ses_nope')).rejects.toMatchObject({ code: 'FOGLINE_ERR_SESSION_NOT_FOUND' });
  });

  it('moves a pending session to the cloud, expires unconnected ones and forgets old closed ones', async () => {
    await sessions.insert(session('ses_load', { reason: 'loading energy on edge-a on demand', expiresAt: T0 + 90_000 }));
    await sessions.insert(session('ses_late', { expiresAt: T0 + 1000 }));
    expect(
      await sessions.updatePending('ses_load', {
        placement: 'cloud',
        nodeId: null,
        nodeName: null,
        reason: 'to the cloud',
        expiresAt: T0 + 5000,
      }),
    ).toBe(true);
    expect(await sessions.get('ses_load')).toMatchObject({
      placement: 'cloud',
      nodeId: null,
      reason: 'to the cloud',
      expiresAt: T0 + 5000,
    });

    expect(await sessions.expirePending(T0 + 2000)).toBe(1);
    expect(await sessions.get('ses_late')).toMatchObject({ state: 'closed', closeReason: 'never connected', closedAt: T0 + 2000 });
    expect(await sessions.forgetClosed(T0 + 2000)).toBe(0);
    expect(await sessions.forgetClosed(T0 + 2001)).toBe(1);
    expect((await sessions.list(true)).map((s) => s.id)).toEqual(['ses_load']);
  });

  it('keeps on-demand placements once per node, marks them used, and drops them with their deployment', async () => {
    let now = T0;
    const placements = new OnDemandPlacements(store.db, () => now);
    const deployments = new DeploymentRepository(store.db);
    for (const name of ['energy', 'other'])
      await deployments.create({
        name,
        modelSelector: 'energy',
        nodeSelector: { site: 'x' },
        policy: POLICY,
        firstVersion: 1,
        createdBy: null,
      });
    expect(await placements.add('energy', 'node-a')).toBe(true);
    now += 1000;
    expect(await placements.add('energy', 'node-a')).toBe(false);
    expect(await placements.add('other', 'node-b')).toBe(true);
    expect(await placements.list()).toEqual([
      { deployment: 'energy', nodeId: 'node-a', createdAt: T0, lastUsedAt: T0 + 1000 },
      { deployment: 'other', nodeId: 'node-b', createdAt: T0 + 1000, lastUsedAt: T0 + 1000 },
    ]);
    now += 1000;
    await placements.touch('other', 'node-b');
    expect(await placements.byDeployment()).toEqual(
      new Map([
        ['energy', ['node-a']],
        ['other', ['node-b']],
      ]),
    );
    expect((await placements.list())[1]!.lastUsedAt).toBe(T0 + 2000);
    expect(await placements.remove('energy', 'node-a')).toBe(true);
    expect(await placements.remove('energy', 'node-a')).toBe(false);
    await deployments.delete('other');
    expect(await placements.list()).toEqual([]);
  });
});
