import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { DialectName } from '../../src/store/database-url.js';
import { migrateToLatest, openStore, type Store } from '../../src/store/store.js';
import { databaseServers } from './database-servers.js';

/**
 * The databases the store suite runs on. `DIALECTS=sqlite` gives a quick local loop; CI runs
 * all three. A dialect whose server is down fails its tests loudly: it is never skipped.
 */
export const DIALECTS: DialectName[] = databaseServers().dialects.filter(
  (name): name is DialectName => name === 'sqlite' || name === 'postgres' || name === 'mysql',
);

const { postgresUrl: POSTGRES_ADMIN_URL, mysqlUrl: MYSQL_ADMIN_URL } = databaseServers();

export interface TestDatabase {
  dialect: DialectName;
  /** A FOGLINE_DB value for a fresh, empty database. */
  url: string;
  drop(): Promise<void>;
}

export interface MigratedTestStore extends TestDatabase {
  /** The store open on it, migrated to the latest schema. */
  store: Store;
  /** Closes the store and drops the database. */
  close(): Promise<void>;
}

/** A fresh database of `dialect` with a store open on it, migrated: what most store tests start from. */
export async function migratedTestStore(dialect: DialectName): Promise<MigratedTestStore> {
  const database = await createTestDatabase(dialect);
  const store = openStore(database.url);
  await migrateToLatest(store);
  return {
    ...database,
    store,
    close: async () => {
      await store.close();
      await database.drop();
    },
  };
}

/** Creates an empty database of the given dialect, private to the calling test. */
export async function createTestDatabase(dialect: DialectName): Promise<TestDatabase> {
  const name = `fogline_test_${randomBytes(6).toString('hex')}`;
  switch (dialect) {
    case 'sqlite': {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fogline-store-'));
      return { dialect, url: `sqlite:${path.join(dir, 'fogline.db')}`, drop: async () => fs.rmSync(dir, { recursive: true, force: true }) };
    }
    case 'postgres': {
      await withPostgres((client) => client.query(`create database ${name}`));
      const url = new URL(POSTGRES_ADMIN_URL);
      url.pathname = `/${name}`;
      return {
        dialect,
        url: url.toString(),
        drop: () => withPostgres((client) => client.query(`drop database if exists ${name} with (force)`)).then(() => undefined),
      };
    }
    case 'mysql': {
      await withMysql((connection) => connection.query(`create database ${name}`));
      const url = new URL(MYSQL_ADMIN_URL);
      url.pathname = `/${name}`;
      return {
        dialect,
        url: url.toString(),
        drop: () => withMysql((connection) => connection.query(`drop database if exists ${name}`)).then(() => undefined),
      };
    }
  }
}

async function withPostgres<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(POSTGRES_ADMIN_URL);
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `PostgreSQL is not reachable at ${POSTGRES_ADMIN_URL} (${(error as Error).message}). Start it (see .ci/run) or set DIALECTS=sqlite for a quick local run.`,
    );
  }
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function withMysql<T>(work: (connection: mysql.Connection) => Promise<T>): Promise<T> {
  let connection: mysql.Connection;
  try {
    connection = await mysql.createConnection(MYSQL_ADMIN_URL);
  } catch (error) {
    throw new Error(
      `MariaDB is not reachable at ${MYSQL_ADMIN_URL} (${(error as Error).message}). Start it (see .ci/run) or set DIALECTS=sqlite for a quick local run.`,
    );
  }
  try {
    return await work(connection);
  } finally {
    await connection.end();
  }
}
