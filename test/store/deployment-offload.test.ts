import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeploymentRepository } from '../../src/deployments/deployment-repository.js';
import { type Store } from '../../src/store/store.js';
import { DIALECTS, type MigratedTestStore, migratedTestStore } from '../support/databases.js';

const POLICY = { strategy: 'all' as const, canaryPercent: 20, soakMs: 60_000, maxErrorRate: 0.01 };

// The offload policy (migration 0009) as each database keeps it.
describe.each(DIALECTS)('deployment offload policy on %s', (dialect) => {
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

  it('defaults to edge-only with a 50 ms target, and keeps what it is given', async () => {
    const plain = await repository.create({
      name: 'plain',
      modelSelector: 'energy',
      nodeSelector: {},
      policy: POLICY,
      firstVersion: 1,
      createdBy: null,
    });
    expect(plain).toMatchObject({ offload: 'edge-only', latencyTargetMs: 50 });
    await repository.create({
      name: 'offloading',
      modelSelector: 'energy@champion',
      nodeSelector: { site: 'plant-a' },
      policy: POLICY,
      offload: { policy: 'auto', latencyTargetMs: 120 },
      firstVersion: 1,
      createdBy: null,
    });
    await repository.create({
      name: 'cloudy',
      modelSelector: 'energy',
      nodeSelector: {},
      policy: POLICY,
      offload: { policy: 'cloud-only', latencyTargetMs: 50 },
      firstVersion: 1,
      createdBy: null,
    });
    const byName = Object.fromEntries((await repository.list()).map((d) => [d.name, d]));
    expect(byName['offloading']).toMatchObject({ offload: 'auto', latencyTargetMs: 120 });
    expect(byName['cloudy']).toMatchObject({ offload: 'cloud-only', latencyTargetMs: 50 });
  });
});
