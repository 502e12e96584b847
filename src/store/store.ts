import { Kysely, Migrator, sql } from 'kysely';
import { databaseErrorHint } from './database-hints.js';
import { type DatabaseLocation, type DialectName, parseDatabaseUrl } from './database-url.js';
import { createDialect } from './dialects.js';
import { allMigrations } from './migrations/index.js';
import type { Database } from './schema.js';

/** An open database: the query builder plus what the rest of the code needs to know about it. */
export interface Store {
  readonly db: Kysely<Database>;
  readonly dialect: DialectName;
  /** Where it is (for error hints: which server, user and database). */
  readonly location: DatabaseLocation;
  /** Resolves when a trivial query succeeds; rejects when the database is unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export function openStore(url: string): Store {
  const location = parseDatabaseUrl(url);
  const db = new Kysely<Database>({ dialect: createDialect(location) });
  return {
    db,
    dialect: location.dialect,
    location,
    async ping() {
      await sql`select 1`.execute(db);
    },
    async close() {
      await db.destroy();
    },
  };
}

function migratorFor(store: Store): Migrator {
  const migrations = allMigrations(store.dialect);
  return new Migrator({
    db: store.db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: 'fogline_migrations',
    migrationLockTableName: 'fogline_migration_lock',
  });
}

export interface MigrationReport {
  applied: string[];
}

/**
 * Brings the schema up to date. Safe to call from several servers at once: the migrator takes
 * a lock (advisory lock on PostgreSQL, GET_LOCK on MariaDB, the write lock on SQLite) and each
 * migration runs once. An error says what to do where it can (a database to create, a login to fix).
 */
export async function migrateToLatest(store: Store, target?: string): Promise<MigrationReport> {
  const migrator = migratorFor(store);
  const { error, results } = target ? await migrator.migrateTo(target) : await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((result) => result.status === 'Error');
    const cause = error instanceof Error ? error.message : String(error);
    // Without a failed migration the database was not reached (or not usable): that is the news.
    const what = failed ? `Database migration ${failed.migrationName} failed: ${cause}` : cause;
    const hint = databaseErrorHint(error, store.location);
    throw new Error(hint ? `${what.replace(/\.$/, '')}. ${hint}` : what, { cause: error });
  }
  return { applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName) };
}

export async function appliedMigrations(store: Store): Promise<string[]> {
  const list = await migratorFor(store).getMigrations();
  return list.filter((m) => m.executedAt !== undefined).map((m) => m.name);
}
