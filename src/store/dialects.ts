import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import {
  type Dialect,
  type Kysely,
  type MigrationLockOptions,
  MysqlDialect,
  PostgresDialect,
  SqliteAdapter,
  SqliteDialect,
  sql,
} from 'kysely';
import { createPool as createMysqlPool } from 'mysql2';
import pg from 'pg';
import type { DatabaseLocation } from './database-url.js';

/** SQLite's BIGINT and PostgreSQL's INT8 come back as numbers: every time we store fits in 2^53. */
const PG_INT8_OID = 20;

export function createDialect(location: DatabaseLocation): Dialect {
  switch (location.dialect) {
    case 'sqlite':
      return new LockingSqliteDialect({ database: openSqlite(location.target) });
    case 'postgres':
      return new PostgresDialect({
        pool: new pg.Pool({
          connectionString: location.target,
          max: 10,
          types: {
            getTypeParser: ((oid: number, format?: string) =>
              oid === PG_INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as never)) as never,
          },
        }),
      });
    case 'mysql':
      return new MysqlDialect({
        pool: createMysqlPool({
          uri: location.target,
          connectionLimit: 10,
          supportBigNumbers: true,
          bigNumberStrings: false,
          decimalNumbers: true,
        }),
      });
  }
}

function openSqlite(file: string): SqliteDatabase.Database {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const db = new SqliteDatabase(file);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 10000');
  db.pragma('synchronous = NORMAL');
  return cachePreparedStatements(db);
}

const STATEMENT_CACHE_LIMIT = 500;

/**
 * Kysely's SQLite driver prepares every query anew; measured under heartbeat load, preparing
 * took about a seventh of the server's time. Statements are reused by their SQL text instead
 * (safe: better-sqlite3 runs each statement to completion before the next call, and Fogline
 * never streams SQLite results).
 */
function cachePreparedStatements(db: SqliteDatabase.Database): SqliteDatabase.Database {
  const prepare = db.prepare.bind(db);
  const statements = new Map<string, SqliteDatabase.Statement>();
  db.prepare = ((source: string) => {
    let statement = statements.get(source);
    if (!statement) {
      if (statements.size >= STATEMENT_CACHE_LIMIT) statements.clear();
      statement = prepare(source);
      statements.set(source, statement);
    }
    return statement;
  }) as typeof db.prepare;
  return db;
}

/**
 * Kysely's SQLite adapter takes no migration lock, because one connection cannot race itself.
 * Two server processes on one file can: writing the lock row first makes the second migrator
 * wait (busy_timeout) until the first has committed, then find nothing left to do.
 */
class LockingSqliteAdapter extends SqliteAdapter {
  override async acquireMigrationLock(db: Kysely<unknown>, options: MigrationLockOptions): Promise<void> {
    await sql`update ${sql.table(options.lockTable)} set is_locked = 1 where id = ${options.lockRowId}`.execute(db);
  }
}

class LockingSqliteDialect extends SqliteDialect {
  override createAdapter(): SqliteAdapter {
    return new LockingSqliteAdapter();
  }
}
