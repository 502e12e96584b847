import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TokenRepository } from '../../src/auth/token-repository.js';
import { FederatedService } from '../../src/federated/federated-service.js';
import { decodeUpdate, encodeUpdate } from '../../src/ml/federated/update-codec.js';
import { NodeRegistry } from '../../src/nodes/node-registry.js';
import { FolderArtifactStore } from '../../src/registry/artifact-store.js';
import { ModelRegistry } from '../../src/registry/model-registry.js';
import { SigningKey } from '../../src/registry/signing-key.js';
import { type Store } from '../../src/store/store.js';
import { DIALECTS, type MigratedTestStore, migratedTestStore } from '../support/databases.js';
import { tempDir } from '../support/processes.js';

const WEIGHTS = 4810; // the digits spec: 64 → 64 → 10

// The coordinator over each database: rounds, updates, quorum, a restart, the registered model.
describe.each(DIALECTS)('federated jobs on %s', (dialect) => {
  let database: MigratedTestStore;
  let store: Store;
  let dataDir: string;
  let models: ModelRegistry;
  let nodes: NodeRegistry;
  let clock = Date.UTC(2026, 10, 23, 8, 0, 0);

  const service = () => new FederatedService(store.db, models, nodes, { dataDir, codeVersion: 'test', now: () => clock });
  const delta = (value: number) => new Float32Array(WEIGHTS).fill(value);

  beforeEach(async () => {
    database = await migratedTestStore(dialect);
    store = database.store;
    dataDir = tempDir('fl-store');
    models = new ModelRegistry(
      store.db,
      new FolderArtifactStore(path.join(dataDir, 'artifacts')),
      SigningKey.loadOrCreate(path.join(dataDir, 'key.pem')),
    );
    nodes = new NodeRegistry(store.db, new TokenRepository(store.db), 30_000, () => clock);
    for (const name of ['n1', 'n2', 'n3']) await nodes.insert({ id: name, name: `site-${name}`, role: 'edge', labels: { fl: 'yes' } });
    await nodes.insert({ id: 'other', name: 'other', role: 'edge', labels: {} });
  });

  afterEach(async () => {
    await database.close();
  });

  it('runs rounds to the end across a restart, rejecting a NaN update, dropping a silent client, and registers the model', async () => {
    const first = service();
    const job = await first.create(
      {
        model: 'digits-fl',
        datasetKind: 'digits',
        nodeSelector: { fl: 'yes' },
        rounds: 2,
        strategy: 'fedadam',
        minFitClients: 2,
        roundTimeoutSeconds: 10,
      },
      null,
    );
    for (const node of ['n1', 'n2', 'n3', 'other']) expect(await first.tasks(node)).toEqual([]);
    await first.tick();
    const tasks = await first.tasks('n1');
    expect(tasks).toHaveLength(1);
    expect(tasks[0]).toMatchObject({ jobId: job.id, round: 1, attempt: 1, datasetKind: 'digits', encoding: 'float32' });
    expect(await first.tasks('other')).toEqual([]);
    expect((await first.weights('n1', job.id, 1, 1)).length).toBeGreaterThan(WEIGHTS * 4);

    expect(
      await first.submit(
        'n1',
        job.id,
        1,
        1,
        encodeUpdate(delta(0.01), 'float32', { examples: 10, metrics: { evalLoss: 2, evalCount: 5, evalAccuracy: 0.2 } }),
      ),
    ).toMatchObject({ status: 'accepted' });
    await expect(first.submit('n1', job.id, 1, 1, encodeUpdate(delta(0.01), 'float32', { examples: 10 }))).rejects.toMatchObject({
      code: 'FOGLINE_ERR_FL_UPDATE_DUPLICATE',
    });
    expect(
      await first.submit(
        'n2',
        job.id,
        1,
        1,
        encodeUpdate(delta(0.02), 'q8', { examples: 30, metrics: { evalLoss: 1, evalCount: 15, evalAccuracy: 0.6 } }),
      ),
    ).toMatchObject({ status: 'accepted' });
    const poisoned = delta(0.01);
    poisoned[3] = Number.NaN;
    await expect(first.submit('n3', job.id, 1, 1, encodeUpdate(poisoned, 'float32', { examples: 10 }))).rejects.toMatchObject({
      code: 'FOGLINE_ERR_FL_UPDATE_REJECTED',
      details: { problem: 'non-finite' },
    });
    await first.tick(); // everyone answered: aggregate
    let view = await first.get(job.id);
    expect(view.roundsCompleted).toBe(1);
    const round1 = view.rounds![0]!;
    expect(round1.status).toBe('aggregated');
    expect(round1.metrics).toMatchObject({ participants: 2, examples: 40 });
    expect(round1.metrics!.evalAccuracy).toBeCloseTo((0.2 * 5 + 0.6 * 15) / 20, 6);
    expect(round1.reports.find((r) => r.nodeId === 'n3')?.status).toBe('rejected');
    expect(round1.dropped.map((c) => c.nodeId)).toEqual(['n3']);

    // A new coordinator on the same database and files carries on with round 2, with the nodes
    // that poll now (polls are shared through the database: n3's first one is past the liveness window).
    clock += 31_000;
    const second = service();
    for (const node of ['n1', 'n2']) await second.tasks(node);
    await second.tick();
    view = await second.get(job.id);
    expect(view.rounds!.at(-1)).toMatchObject({ round: 2, attempt: 1, status: 'open' });
    expect(
      view
        .rounds!.at(-1)!
        .sampled.map((c) => c.nodeId)
        .sort(),
    ).toEqual(['n1', 'n2']);
    await second.submit('n2', job.id, 2, 1, encodeUpdate(delta(-0.01), 'float16', { examples: 30 }));
    await second.tick();
    expect((await second.get(job.id)).roundsCompleted).toBe(1); // n1 has until the deadline
    clock += 11_000;
    // Past the deadline an update counts as late even before the coordinator closes the round.
    expect(await second.submit('n1', job.id, 2, 1, encodeUpdate(delta(0), 'float32', { examples: 1 }))).toMatchObject({ status: 'late' });
    await second.tick(); // deadline: 1 of 2 accepted meets the quorum (0.5 × 2)
    await second.tick(); // all rounds done: package and register
    view = await second.get(job.id);
    expect(view, view.error ?? '').toMatchObject({ status: 'succeeded', roundsCompleted: 2, registeredVersion: 1 });
    expect(view.rounds!.at(-1)!.dropped.map((c) => c.nodeId)).toEqual(['n1']);
    const version = await models.getVersion('digits-fl', 1);
    expect(version.kind).toBe('image-classifier');
    expect(version.lineage.runId).toBe(job.id);
    expect((version.lineage.parameters.rounds as unknown[]).length).toBe(2);
    // A closed round gives out no weights, and its late update was recorded, not counted.
    await expect(second.weights('n1', job.id, 2, 1)).rejects.toMatchObject({ code: 'FOGLINE_ERR_FL_NOT_SAMPLED' });
    expect(view.rounds!.at(-1)!.reports.find((r) => r.nodeId === 'n1')?.status).toBe('late');
    await expect(second.cancel(job.id)).rejects.toMatchObject({ code: 'FOGLINE_ERR_FL_JOB_FINISHED' });
    // Only what the job still refers to is kept: its final weights and FedAdam's moments.
    const stored = fs
      .readdirSync(path.join(dataDir, 'federated'), { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile() && /^[0-9a-f]{64}$/.test(entry.name));
    expect(
      stored.map((e) => decodeUpdate(fs.readFileSync(path.join(e.parentPath, e.name))).meta).sort((a, b) => (a.step ? 1 : b.step ? -1 : 0)),
    ).toEqual([{ round: 2 }, { step: 2 }]);
  });

  it("samples only nodes holding the job's kind of data, when they say", async () => {
    const coordinator = service();
    const job = await coordinator.create({ model: 'm', datasetKind: 'digits', nodeSelector: { fl: 'yes' }, minFitClients: 2 }, null);
    await coordinator.tasks('n1', 0, ['digits']);
    await coordinator.tasks('n2', 0); // says nothing: may take any kind
    await coordinator.tasks('n3', 0, ['forecast']);
    await coordinator.tick();
    const [round] = (await coordinator.get(job.id)).rounds!;
    expect(round!.sampled.map((c) => c.nodeId).sort()).toEqual(['n1', 'n2']);
  });

  it('samples nodes that polled another replica (on the same database), with the kinds they said there', async () => {
    const coordinator = service();
    const follower = service(); // another control plane: it answers polls but does not coordinate
    const job = await coordinator.create({ model: 'm', datasetKind: 'digits', nodeSelector: { fl: 'yes' }, minFitClients: 2 }, null);
    await follower.tasks('n1', 0, ['digits']);
    await follower.tasks('n2', 0, ['forecast']);
    await coordinator.tasks('n3', 0);
    await coordinator.tick();
    const [round] = (await coordinator.get(job.id)).rounds!;
    expect(round!.sampled.map((c) => c.nodeId).sort()).toEqual(['n1', 'n3']);
    // The follower hands out the round's tasks from the database.
    expect(await follower.tasks('n1', 0, ['digits'])).toHaveLength(1);
  });

  it('leaves out nodes whose last poll, through any replica, is older than the liveness window', async () => {
    const coordinator = service();
    const follower = service();
    const job = await coordinator.create({ model: 'm', datasetKind: 'digits', nodeSelector: { fl: 'yes' }, minFitClients: 2 }, null);
    await follower.tasks('n1', 0);
    clock += 31_000;
    await follower.tasks('n2', 0);
    await coordinator.tasks('n3', 0);
    await coordinator.tick();
    const [round] = (await coordinator.get(job.id)).rounds!;
    expect(round!.sampled.map((c) => c.nodeId).sort()).toEqual(['n2', 'n3']);
  });

  it('retries a round without a quorum and fails the job after maxRoundFailures; a running job can be canceled', async () => {
    const coordinator = service();
    const failing = await coordinator.create(
      {
        model: 'm',
        datasetKind: 'digits',
        nodeSelector: { fl: 'yes' },
        rounds: 3,
        minFitClients: 2,
        quorum: 1,
        roundTimeoutSeconds: 5,
        maxRoundFailures: 2,
      },
      null,
    );
    for (const node of ['n1', 'n2']) await coordinator.tasks(node);
    await coordinator.tick();
    await coordinator.submit('n1', failing.id, 1, 1, encodeUpdate(delta(0.01), 'float32', { examples: 5 }));
    clock += 6_000;
    await coordinator.tick(); // attempt 1 fails: 1 of 2, quorum 2
    for (const node of ['n1', 'n2']) await coordinator.tasks(node);
    await coordinator.tick(); // attempt 2 opens
    expect((await coordinator.get(failing.id)).rounds!.map((r) => [r.round, r.attempt, r.status])).toEqual([
      [1, 1, 'failed'],
      [1, 2, 'open'],
    ]);
    clock += 6_000;
    await coordinator.tick();
    await coordinator.tick();
    const failed = await coordinator.get(failing.id);
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/failed 2 times/);

    const other = await coordinator.create({ model: 'm', datasetKind: 'digits', rounds: 1 }, null);
    expect((await coordinator.cancel(other.id)).status).toBe('canceled');
    expect((await coordinator.list()).map((j) => j.status).sort()).toEqual(['canceled', 'failed']);
    await expect(coordinator.create({ model: 'm', datasetKind: 'forecast' }, null)).rejects.toMatchObject({
      code: 'FOGLINE_ERR_FL_JOB_INVALID',
    });
    await expect(coordinator.get('fl_nope')).rejects.toMatchObject({ code: 'FOGLINE_ERR_FL_JOB_NOT_FOUND' });
  });
});
