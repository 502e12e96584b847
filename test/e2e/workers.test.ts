/**
 * Training on `fogline worker` processes (issue 16): two control-plane replicas on PostgreSQL with
 * --run-concurrency 0 put runs on Redis (BullMQ); two real workers take them through the REST API.
 * A worker killed with SIGKILL mid-training loses its hold, the other takes the run over as a
 * second attempt, and exactly one version is registered.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { ModelVersionList } from '../../src/contracts/models.js';
import type { RunList, RunView } from '../../src/contracts/runs.js';
import { beforeAllOrFail } from '../support/before-all-or-fail.js';
import { PJME_TEXT } from '../support/cluster.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { cleanFoglineEnv, eventually, type FoglineProcess, runFogline, tempDir } from '../support/processes.js';
import { assertRedisReachable, testRedisUrl } from '../support/redis.js';
import { ReplicaSet } from '../support/replicas.js';

/** A forecast run that trains for several seconds on this machine: long enough to kill its worker mid-epoch. */
const LONG_RUN = { pipeline: 'forecast', dataset: 'pjme', params: { epochs: 25, hidden: [32], patience: 25 }, gate: 'none' };

describe('training on two fogline worker processes behind two replicas (real processes)', { timeout: 180_000 }, () => {
  let database: TestDatabase | undefined;
  let set: ReplicaSet;
  const workers = new Map<string, FoglineProcess>();

  const run = async (base: string, id: string) => (await set.api<RunView>(base, 'GET', `/api/v1/runs/${id}`)).body;
  /** On a timeout: the run and what the workers printed, so a failure says where it stopped. */
  const explain = (id: string) => async (error: unknown) => {
    console.log(JSON.stringify(await run('a', id)), [...workers.values()].map((w) => w.output()).join('\n----\n'));
    throw error;
  };
  /** `fogline runs …` as a user types it, against replica b. */
  const runsCli = async (...args: string[]) => {
    const out = await runFogline(['runs', ...args, '--server', set.replica('b').url, '--token', set.adminToken!], cleanFoglineEnv());
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    return out.stdout;
  };
  const startWorker = (name: string, token: string) => {
    const worker = set.startProcess([
      ...['worker', '--server', set.replica('b').url, '--token', token, '--name', name, '--cache-dir', tempDir(`worker-${name}`)],
      ...['--redis', testRedisUrl(), '--redis-channel', set.channel, '--worker-lost-after', '3', '--log-level', 'info'],
    ]);
    workers.set(name, worker);
    return worker.waitForOutput(/waiting for runs/, 30_000);
  };

  beforeAllOrFail(async () => {
    await assertRedisReachable();
    database = await createTestDatabase('postgres');
    set = new ReplicaSet({ db: database.url, redis: testRedisUrl(), args: ['--run-concurrency', '0'] });
    await set.startReplicas(['a', 'b']);
    const upload = await fetch(`${set.replica('a').url}/api/v1/datasets/pjme/versions?timeColumn=Datetime&valueColumn=PJME_MW`, {
      method: 'POST',
      headers: { authorization: `Bearer ${set.adminToken}`, 'content-type': 'text/csv' },
      body: PJME_TEXT,
    });
    expect(upload.status).toBe(201);
    const operator = await set.api<{ token: string }>('a', 'POST', '/api/v1/tokens', { name: 'workers', role: 'operator' });
    expect(operator.status).toBe(201);
    await startWorker('w1', operator.body.token);
    await startWorker('w2', operator.body.token);
  }, 120_000);

  afterAll(async () => {
    await set?.stop();
    await database?.drop();
  });

  it('a worker killed mid-training: the other takes the run over, it finishes once, one version is registered', async () => {
    const started = await set.api<RunView>('a', 'POST', '/api/v1/runs', { ...LONG_RUN, model: 'energy-workers' });
    expect(started.status).toBe(201);
    const id = started.body.id;
    // Training, on one of the two workers, seen through the other replica.
    const training = await eventually(async () => {
      const view = await run('b', id);
      return view.status === 'running' && (view.progress?.epoch ?? 0) >= 2 ? view : undefined;
    }, 60_000).catch(explain(id));
    const holder = training.worker!;
    expect(['w1', 'w2']).toContain(holder);
    const listed = (await set.api<RunList>('b', 'GET', '/api/v1/runs')).body;
    expect(listed.queue).toMatchObject({ kind: 'redis', active: 1 });
    // The CLI shows the same: the queue line above the table, and who holds the run.
    const listing = await runsCli('list');
    expect(listing.split('\n')[0]).toMatch(/^Queue \(redis\): \d+ waiting( \(oldest \d+s\))?, 1 running, \d+ delayed$/);
    expect(listing).toMatch(/^ID\s+PIPELINE.*\sWORKER\s+CREATED$/m);
    expect(listing.split('\n').find((line) => line.startsWith(id))).toMatch(new RegExp(`\\s${holder}\\s`));

    workers.get(holder)!.child.kill('SIGKILL');
    const finished = await eventually(async () => {
      const view = await run('a', id);
      return view.status === 'succeeded' || view.status === 'failed' ? view : undefined;
    }, 120_000).catch(explain(id));
    expect(finished.error).toBeNull();
    expect(finished.status).toBe('succeeded');
    expect(finished.attempt).toBe(2);
    expect(finished.worker).toBe(holder === 'w1' ? 'w2' : 'w1');
    expect(await runsCli('get', id)).toMatch(new RegExp(`^Worker: ${finished.worker} \\(attempt 2\\)$`, 'm'));
    expect((await runsCli('list')).split('\n').find((line) => line.startsWith(id))).toContain(`${finished.worker} (attempt 2)`);
    const versions = (await set.api<ModelVersionList>('b', 'GET', '/api/v1/models/energy-workers/versions')).body.versions;
    expect(versions.map((v) => [v.version, v.lineage.runId])).toEqual([[1, id]]);
    expect(finished.registeredVersion).toBe(1);
  });

  it('a run canceled through one replica stops on its worker within seconds; the queue is empty after', async () => {
    // Other parameters than the first run's: its steps are not in the worker's cache.
    const started = await set.api<RunView>('b', 'POST', '/api/v1/runs', {
      ...LONG_RUN,
      params: { ...LONG_RUN.params, hidden: [24] },
      model: 'energy-canceled',
    });
    const id = started.body.id;
    await eventually(async () => ((await run('a', id)).progress?.epoch ?? 0) >= 1, 60_000);
    const askedAt = Date.now();
    expect((await set.api('a', 'POST', `/api/v1/runs/${id}/cancel`)).status).toBe(200);
    const canceled = await eventually(async () => {
      const view = await run('b', id);
      return view.status === 'canceled' ? view : undefined;
    }, 30_000).catch(explain(id));
    expect(Date.now() - askedAt).toBeLessThan(10_000);
    expect(canceled.registeredVersion).toBeNull();
    await eventually(async () => {
      const { queue } = (await set.api<RunList>('a', 'GET', '/api/v1/runs')).body;
      return queue?.active === 0 && queue.waiting === 0;
    }, 15_000);
  });
});
