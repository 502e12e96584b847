import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { announceChanges } from '../../src/cluster/change-wiring.js';
import { resolveOptions } from '../../src/config/options.js';
import { SERVER_OPTIONS } from '../../src/config/server-options.js';
import type { DesiredState } from '../../src/contracts/deployments.js';
import { createServices, type Services } from '../../src/control-plane/services.js';
import { FORECASTER_VERSION, IDLE_HEARTBEAT } from '../support/control-plane.js';
import { type MigratedTestStore, migratedTestStore } from '../support/databases.js';
import { tempDir } from '../support/processes.js';

const NODES = ['edge-1', 'edge-2', 'edge-3', 'edge-4'];

// The rollout controller moves before long polls wake: one alias move, one wake per agent.
describe('an alias move', () => {
  let database: MigratedTestStore;
  let services: Services;

  beforeEach(async () => {
    database = await migratedTestStore('sqlite');
    const config = resolveOptions(SERVER_OPTIONS, { dataDir: tempDir('wakes'), port: '0', logLevel: 'silent', db: database.url }, {});
    services = createServices(database.store, config);
    announceChanges(services.changes, services);
    services.rollouts.start();
  });

  afterEach(async () => {
    services.changes.close();
    await services.rollouts.stop();
    await services.runs.stop();
    await services.inference.close();
    await database.close();
  });

  it('wakes each long-polling agent once, with the version it moved to', async () => {
    const { models, nodes, deployments, desiredState } = services;
    await models.register({ ...FORECASTER_VERSION, bundle: Buffer.from('one') });
    await models.register({ ...FORECASTER_VERSION, bundle: Buffer.from('two') });
    await models.setAlias('energy', 'champion', 1);
    for (const id of NODES) {
      await nodes.insert({ id, name: id, role: 'edge', labels: { site: 'plant-a' } });
      await nodes.recordHeartbeat(id, IDLE_HEARTBEAT);
    }
    await deployments.create({
      name: 'energy',
      modelSelector: 'energy@champion',
      nodeSelector: { site: 'plant-a' },
      policy: { strategy: 'all', canaryPercent: 25, soakMs: 0, maxErrorRate: 0.05 },
      firstVersion: 1,
      createdBy: null,
    });
    // Every node serves v1 and says so: the rollout settles.
    for (const id of NODES) await deployments.recordStatus(id, { deployments: [{ name: 'energy', version: 1, state: 'serving' }] });
    const settled = Date.now();
    while ((await deployments.get('energy')).rollout.phase !== 'stable') {
      if (Date.now() - settled > 5000) throw new Error('the first rollout did not settle');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    // How often each agent's long poll works out its desired state: once when it starts, then once per wake.
    const computed = new Map(NODES.map((id) => [id, 0]));
    const forNode = desiredState.forNode.bind(desiredState);
    desiredState.forNode = async (nodeId) => {
      computed.set(nodeId, computed.get(nodeId)! + 1);
      return forNode(nodeId);
    };
    const revisions = new Map(await Promise.all(NODES.map(async (id) => [id, (await forNode(id)).revision] as const)));
    const polls = NODES.map((id) => desiredState.waitForChange(id, revisions.get(id), 10_000));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    await models.setAlias('energy', 'champion', 2);
    const answers: DesiredState[] = await Promise.all(polls);
    // Long before the 2 s recheck, which would count as a wake of its own.
    expect(Date.now() - started).toBeLessThan(1000);
    expect(answers.map((answer) => answer.deployments[0]?.version)).toEqual(NODES.map(() => 2));
    expect(Object.fromEntries(computed)).toEqual(Object.fromEntries(NODES.map((id) => [id, 2])));
  });
});
