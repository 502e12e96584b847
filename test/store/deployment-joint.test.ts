import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeploymentRepository } from '../../src/deployments/deployment-repository.js';
import { type Store } from '../../src/store/store.js';
import { DIALECTS, type MigratedTestStore, migratedTestStore } from '../support/databases.js';

const POLICY = { strategy: 'all' as const, canaryPercent: 20, soakMs: 60_000, maxErrorRate: 0.01 };

// Joint inference (migration 0013): the setting per deployment and each node's counts, as each database keeps them.
describe.each(DIALECTS)('deployment joint inference on %s', (dialect) => {
  let database: MigratedTestStore;
  let store: Store;
  let repository: DeploymentRepository;

  beforeEach(async () => {
    database = await migratedTestStore(dialect);
    store = database.store;
    repository = new DeploymentRepository(store.db);
  });

  afterEach(async () => {
    await database.close();
  });

  it('keeps a joint setting (none by default) and the counts each node reports', async () => {
    const plain = await repository.create({
      name: 'plain',
      modelSelector: 'digits',
      nodeSelector: {},
      policy: POLICY,
      firstVersion: 1,
      createdBy: null,
    });
    expect(plain.joint).toBeNull();
    const joint = { cloudModel: 'digits-large@champion', rule: 'entropy' as const, threshold: 0.125 };
    await repository.create({
      name: 'digits',
      modelSelector: 'digits-small',
      nodeSelector: {},
      policy: POLICY,
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
