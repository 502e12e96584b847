import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LeaderLease } from '../../src/cluster/leader-lease.js';
import { type Claimant, LeaseStore } from '../../src/cluster/lease-store.js';
import { openStore, type Store } from '../../src/store/store.js';
import { DIALECTS, type MigratedTestStore, migratedTestStore } from '../support/databases.js';

const LEASE = 'control-plane';

function claimant(index: number): Claimant {
  return { holder: `replica-${index}`, host: 'test-host', pid: 1000 + index };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// The leader lease (migration 0018) as each database keeps it: each replica has its own store
// (its own connection pool), as separate processes would.
describe.each(DIALECTS)('the leader lease on %s', (dialect) => {
  let database: MigratedTestStore;
  const replicas: Store[] = [];

  beforeEach(async () => {
    database = await migratedTestStore(dialect);
    for (let i = 0; i < 5; i++) replicas.push(openStore(database.url));
  });

  afterEach(async () => {
    await Promise.all(replicas.splice(0).map((store) => store.close()));
    await database.close();
  });

  it('goes to exactly one of five replicas claiming at once, round after round', async () => {
    const leases = replicas.map((store) => new LeaseStore(store.db, dialect));
    for (let round = 0; round < 15; round++) {
      const won = await Promise.all(leases.map((lease, i) => lease.claim(LEASE, claimant(i), 60_000)));
      const holders = won.flatMap((taken, i) => (taken ? [claimant(i).holder] : []));
      expect(holders, `round ${round}`).toHaveLength(1);
      const [holder] = holders as [string];
      expect((await leases[0]!.holder(LEASE))?.holder).toBe(holder);
      // The holder renews; nobody else gets it while it lives.
      const renewed = await Promise.all(leases.map((lease, i) => lease.claim(LEASE, claimant(i), 60_000)));
      expect(renewed.flatMap((taken, i) => (taken ? [claimant(i).holder] : []))).toEqual([holder]);
      // Released: the next round is a fresh race.
      await leases[Number(holder.split('-')[1])]!.release(LEASE, holder);
      expect((await leases[0]!.holder(LEASE))?.expiresInMs).toBeLessThanOrEqual(0);
    }
  });

  it('is taken over once it expires on the database clock, and the old holder cannot renew it', async () => {
    const [a, b] = replicas.map((store) => new LeaseStore(store.db, dialect)) as [LeaseStore, LeaseStore];
    expect(await a.claim(LEASE, claimant(0), 600)).toBe(true);
    expect(await b.claim(LEASE, claimant(1), 600)).toBe(false);
    const held = await b.holder(LEASE);
    expect(held).toMatchObject({ holder: 'replica-0', host: 'test-host', pid: 1000 });
    expect(held!.expiresInMs).toBeGreaterThan(0);
    expect(held!.expiresInMs).toBeLessThanOrEqual(600);
    await sleep(700);
    expect(await b.claim(LEASE, claimant(1), 600)).toBe(true);
    expect(await a.claim(LEASE, claimant(0), 600)).toBe(false);
    expect((await a.holder(LEASE))?.holder).toBe('replica-1');
  });

  it('is taken from a holder known to be dead before it expires, and only from that holder', async () => {
    const [a, b] = replicas.map((store) => new LeaseStore(store.db, dialect)) as [LeaseStore, LeaseStore];
    expect(await a.claim(LEASE, claimant(0), 60_000)).toBe(true);
    expect(await b.claim(LEASE, claimant(1), 60_000, 'replica-9')).toBe(false);
    expect(await b.claim(LEASE, claimant(1), 60_000, 'replica-0')).toBe(true);
  });

  it('makes one LeaderLease the leader, hands over on stop and releases so the follower leads within a second', async () => {
    const events: string[] = [];
    const [first, second] = replicas.slice(0, 2).map((store, i) => {
      const lease = new LeaderLease(new LeaseStore(store.db, dialect), { ttlMs: 3000, claimant: claimant(i) });
      lease.on('became-leader', () => events.push(`${i} leads`));
      lease.on('lost-leadership', (reason) => events.push(`${i} lost: ${reason}`));
      return lease;
    }) as [LeaderLease, LeaderLease];
    await first.start();
    await second.start();
    expect([first.isLeader, second.isLeader]).toEqual([true, false]);
    // Renewals (every second) keep the lease with the first beyond its ttl.
    await sleep(3500);
    expect([first.isLeader, second.isLeader]).toEqual([true, false]);
    let drained = false;
    const stoppedAt = Date.now();
    await first.stop(async () => {
      // The controllers stop before the lease is let go: the follower cannot lead yet.
      await sleep(100);
      expect(second.isLeader).toBe(false);
      drained = true;
    });
    expect(drained).toBe(true);
    while (!second.isLeader && Date.now() - stoppedAt < 3000) await sleep(20);
    expect(second.isLeader).toBe(true);
    expect(Date.now() - stoppedAt).toBeLessThan(1500);
    expect(events).toEqual(['0 leads', '0 lost: this control plane is shutting down', '1 leads']);
    await second.stop();
  });

  it('lets the follower lead once a leader that stopped renewing lets the lease expire, after the old leader stepped down', async () => {
    const ttlMs = 1500;
    const events: string[] = [];
    const frozen = new FrozenLeaseStore(replicas[0]!.db, dialect);
    const dead = new LeaderLease(frozen, { ttlMs, claimant: claimant(0) });
    const follower = new LeaderLease(new LeaseStore(replicas[1]!.db, dialect), { ttlMs, claimant: claimant(1) });
    dead.on('lost-leadership', (reason) => events.push(`old leader: ${reason}`));
    follower.on('became-leader', () => events.push('follower leads'));
    await dead.start();
    await follower.start();
    // Its renewals never answer from now on (a hung process, or a database it cannot reach).
    frozen.frozen = true;
    const frozenAt = Date.now();
    while (!follower.isLeader && Date.now() - frozenAt < ttlMs + 3000) await sleep(20);
    const failoverMs = Date.now() - frozenAt;
    expect(follower.isLeader).toBe(true);
    expect(failoverMs).toBeLessThanOrEqual(ttlMs + 1100);
    expect(events).toEqual(['old leader: the lease could not be renewed in time', 'follower leads']);
    expect(dead.isLeader).toBe(false);
    await follower.stop();
  });
});

/** A lease store whose claims never answer once frozen. */
class FrozenLeaseStore extends LeaseStore {
  frozen = false;

  override claim(...args: Parameters<LeaseStore['claim']>): Promise<boolean> {
    return this.frozen ? new Promise(() => undefined) : super.claim(...args);
  }
}
