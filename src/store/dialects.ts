import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  MysqlDialect,
  PostgresDialect,
  SqliteAdapter,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
} from 'kysely';
import { createPool as createMysqlPool } from 'mysql2';
import pg from 'pg';
import type { DatabaseLocation } from './database-url.js';

/** SQLite's BIGINT and PostgreSQL's INT8 come back as numbers: every time we store fits in 2^53. */
const PG_INT8_OID = 20;

export function createDialect(location: DatabaseLocation): Dialect {
  switch (location.dialect) {
    case 'sqlite':
      return new ImmediateSqliteDialect({ database: openSqlite(location.target) });
    case 'postgres': {
      const pool = new pg.Pool({
        connectionString: location.target,
        max: 10,
        types: {
          getTypeParser: ((oid: number, format?: string) =>
            oid === PG_INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as never)) as never,
        },
      });
      // An idle connection that the server closes (restart, failover, admin termination) emits
      // 'error' on the pool; unhandled, it would crash the process. The pool drops that client
      // and the next query opens a new one.
      pool.on('error', (error) => process.emitWarning(`PostgreSQL dropped an idle connection: ${error.message}`, 'FoglineStoreWarning'));
      return new PostgresDialect({ pool });
    }
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
  // A new database file is created 0600 like the rest of the data dir; SQLite gives its -wal and
  // -shm files the database file's permissions.
  if (file !== ':memory:' && !fs.existsSync(file)) fs.closeSync(fs.openSync(file, 'a', 0o600));
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
 * Every SQLite transaction begins IMMEDIATE: it takes the write lock at once (waiting up to
 * busy_timeout) instead of on its first write. Two processes on one file then queue instead of
 * failing with SQLITE_BUSY on lock upgrade, and the second of two servers migrating at once starts
 * its migration transaction only after the first has committed, so it sees the migrations done
 * (Kysely takes no migration lock on SQLite: one connection cannot race itself, two processes can).
 * Migrations run in such a transaction too (see the adapter below), so a failed one leaves nothing.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

/** SQLite runs DDL inside transactions; Kysely's adapter says it does not, which would run migrations outside any. */
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  constructor(private readonly sqliteConfig: SqliteDialectConfig) {
    super(sqliteConfig);
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.sqliteConfig);
  }

  override createAdapter(): SqliteAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}
