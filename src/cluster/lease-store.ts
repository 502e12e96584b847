import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { DialectName } from '../store/database-url.js';
import type { Database } from '../store/schema.js';

/** Who holds a lease, as the database says now. */
export interface LeaseHolder {
  holder: string;
  host: string;
  pid: number;
  /** Milliseconds until the lease expires on the database's clock (≤ 0: expired, anyone may take it). */
  expiresInMs: number;
}

export interface Claimant {
  holder: string;
  host: string;
  pid: number;
}

/**
 * The database's clock in epoch milliseconds. Every replica judges expiry by this one clock, so
 * wall-clock skew between replicas' machines cannot make two of them think the lease is theirs.
 * (SQLite's is the process's clock: SQLite runs in the process, and it has one replica anyway.)
 */
export function databaseNow(dialect: DialectName): RawBuilder<number> {
  switch (dialect) {
    case 'postgres':
      return sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint`;
    case 'mysql':
      return sql<number>`cast(unix_timestamp(now(3)) * 1000 as signed)`;
    case 'sqlite':
      return sql<number>`cast((julianday('now') - 2440587.5) * 86400000 as integer)`;
  }
}

/**
 * The lease rows. Taking or renewing a lease is one conditional UPDATE (row-atomic on all three
 * databases): it succeeds only for the holder or once the lease has expired.
 */
export class LeaseStore {
  /** Lease rows known to exist (they are never deleted). */
  private readonly rows = new Set<string>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: DialectName,
  ) {}

  /**
   * Takes `name` for `ttlMs` when it is free, expired or already ours (or held by `staleHolder`, a
   * holder known to be dead); true when we hold it now.
   */
  async claim(name: string, claimant: Claimant, ttlMs: number, staleHolder?: string): Promise<boolean> {
    await this.ensureRow(name);
    const now = databaseNow(this.dialect);
    const result = await this.db
      .updateTable('leases')
      .set({
        // A renewal keeps the time the lease was taken; a takeover starts it again. First: MariaDB
        // evaluates assignments left to right, so `holder` must still be the old one here.
        acquired_at: sql<number>`case when holder = ${claimant.holder} then acquired_at else ${now} end`,
        holder: claimant.holder,
        host: claimant.host,
        pid: claimant.pid,
        expires_at: sql<number>`${now} + ${ttlMs}`,
      })
      .where('name', '=', name)
      .where((eb) =>
        eb.or([
          eb('holder', '=', claimant.holder),
          eb('expires_at', '<', now),
          ...(staleHolder === undefined ? [] : [eb('holder', '=', staleHolder)]),
        ]),
      )
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Gives the lease up at once (only when we hold it), so that another replica takes over without waiting out the ttl. */
  async release(name: string, holder: string): Promise<void> {
    await this.db.updateTable('leases').set({ expires_at: 0 }).where('name', '=', name).where('holder', '=', holder).execute();
  }

  /** The current holder, or undefined when nobody ever took the lease. */
  async holder(name: string): Promise<LeaseHolder | undefined> {
    const row = await this.db
      .selectFrom('leases')
      .select(['holder', 'host', 'pid', sql<number>`expires_at - ${databaseNow(this.dialect)}`.as('expires_in')])
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row || row.holder === '') return undefined;
    return { holder: row.holder, host: row.host, pid: Number(row.pid), expiresInMs: Number(row.expires_in) };
  }

  /** Inserts the lease's row, expired and held by nobody, unless it is there. */
  private async ensureRow(name: string): Promise<void> {
    if (this.rows.has(name)) return;
    const row = { name, holder: '', host: '', pid: 0, expires_at: 0, acquired_at: 0 };
    const insert = this.db.insertInto('leases').values(row);
    await (this.dialect === 'mysql' ? insert.ignore() : insert.onConflict((oc) => oc.column('name').doNothing())).execute();
    this.rows.add(name);
  }
}
