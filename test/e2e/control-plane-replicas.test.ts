/**
 * Two `fogline server` processes on one PostgreSQL database (issue 16): exactly one holds the
 * leader lease and runs the background controllers (the federated coordinator is the one watched
 * here: its phase of a job shows only where it runs); `kill -9` of the leader hands the lease to
 * the other within the ttl (10 s) plus 2 s, and a graceful stop hands it over at once. On SQLite a
 * second control plane is refused, and a killed one's restart is not blocked by its old lease.
 *
 * Artifacts stay in each replica's data dir here (--artifact-store folder): nothing here needs a
 * file another replica stored (the job's waiting phase reads no weights).
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FederatedJobView } from '../../src/contracts/federated.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { eventually, freePort, ProcessTracker, tempDir, waitForExit } from '../support/processes.js';
import { ReplicaSet } from '../support/replicas.js';

const TTL_MS = 10_000;

describe('control-plane replicas on PostgreSQL (real processes)', { timeout: 180_000 }, () => {
  let database: TestDatabase;
  let set: ReplicaSet;

  const phase = async (replica: string, id: string) =>
    (await set.api<FederatedJobView>(replica, 'GET', `/api/v1/federated/jobs/${id}`)).body.phase;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    // Info level: the test reads the replicas' role messages. One after the other: the first
    // migrates the empty database and bootstraps the admin token.
    set = new ReplicaSet({ db: database.url, artifactStore: 'folder', logLevel: 'info' });
    await set.startReplicas(['a', 'b']);
  }, 90_000);

  afterAll(async () => {
    await set?.stop();
    await database?.drop();
  });

  it('runs the controllers on one replica and hands them over when the leader is killed or stopped', async () => {
    expect([await set.leads('a'), await set.leads('b')]).toEqual([true, false]);
    expect(set.replica('b').process.output()).toMatch(/follower: another control plane holds the leader lease/);

    // A job made through the follower: the leader's coordinator picks it up (it waits for clients);
    // the follower's coordinator does not run, so it has no phase of its own to show.
    const created = await set.api<FederatedJobView>('b', 'POST', '/api/v1/federated/jobs', {
      model: 'replicas-fl',
      datasetKind: 'digits',
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const job = created.body.id;
    const waiting = await eventually(async () => {
      const seen = await phase('a', job);
      return seen !== 'starting' ? seen : undefined;
    }, 10_000);
    expect(waiting).toMatch(/client/);
    expect(await phase('b', job)).toBe('starting');

    // kill -9 the leader: the lease expires within the ttl and the follower takes it.
    const killedAt = Date.now();
    await set.kill('a');
    await eventually(async () => ((await set.leads('b')) ? true : undefined), TTL_MS + 5000, 100);
    const leaderAfterMs = Date.now() - killedAt;
    await eventually(async () => ((await phase('b', job)) !== 'starting' ? true : undefined), TTL_MS + 5000, 100);
    const controllersAfterMs = Date.now() - killedAt;
    console.log(
      `failover after kill -9: leader in ${leaderAfterMs} ms, federated coordinator running in ${controllersAfterMs} ms (ttl ${TTL_MS} ms)`,
    );
    expect(controllersAfterMs).toBeLessThanOrEqual(TTL_MS + 2000);
    expect(set.replica('b').process.output()).toMatch(
      /leader: running run recovery, rollouts, session sweeps, drift loop, federated rounds/,
    );

    // The killed one comes back as a follower.
    await set.start('a');
    expect([await set.leads('a'), await set.leads('b')]).toEqual([false, true]);

    // A graceful stop releases the lease: the other leads within about a second, not a ttl.
    const b = set.replica('b').process;
    b.child.kill('SIGTERM');
    const stoppedAt = Date.now();
    await eventually(async () => ((await set.leads('a')) ? true : undefined), TTL_MS, 50);
    const handoverMs = Date.now() - stoppedAt;
    console.log(`handover after SIGTERM: ${handoverMs} ms`);
    expect(handoverMs).toBeLessThan(3000);
    expect(await waitForExit(b, 10_000)).toBe(0);
  });
});

describe('control planes on one SQLite database (real processes)', { timeout: 120_000 }, () => {
  const processes = new ProcessTracker();
  afterAll(() => processes.stopAll());

  it('refuses a second one with a clear message, and a killed one restarts at once', async () => {
    const dataDir = tempDir('sqlite-one');
    const port = await freePort();
    const first = processes.start(['server', '--data-dir', dataDir, '--port', String(port), '--log-level', 'warn']);
    await first.waitForOutput(/listening on/, 30_000);

    const second = processes.start([
      'server',
      '--data-dir',
      tempDir('sqlite-two'),
      '--port',
      '0',
      '--db',
      `sqlite:${path.join(dataDir, 'fogline.db')}`,
    ]);
    expect(await waitForExit(second, 30_000)).not.toBe(0);
    expect(second.output()).toContain('SQLite supports one control plane; use PostgreSQL or MariaDB for replicas (FOGLINE_DB)');
    expect(second.output()).toContain(`Another control plane (process ${first.child.pid} on this machine)`);

    // kill -9 leaves the lease held for up to 10 s; the restart sees its holder's pid is gone.
    first.child.kill('SIGKILL');
    await first.exited;
    const restartedAt = Date.now();
    const again = processes.start(['server', '--data-dir', dataDir, '--port', String(port), '--log-level', 'warn']);
    await again.waitForOutput(/listening on/, 30_000);
    expect(Date.now() - restartedAt).toBeLessThan(8000);
  });
});
