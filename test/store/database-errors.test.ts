/**
 * Opening a database that is not there, or not ours to use, says what to do about it: against the
 * real PostgreSQL and MariaDB servers the suite runs on.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createDatabaseCommand } from '../../src/store/database-hints.js';
import { parseDatabaseUrl } from '../../src/store/database-url.js';
import { migrateToLatest, openStore } from '../../src/store/store.js';
import { databaseServers } from '../support/database-servers.js';
import { DIALECTS } from '../support/databases.js';
import { freePort } from '../support/processes.js';

const { postgresUrl, mysqlUrl } = databaseServers();
const SERVERS = { postgres: postgresUrl, mysql: mysqlUrl };

/** The server's URL with another database, user, password or port. */
function variant(dialect: 'postgres' | 'mysql', change: { database?: string; user?: string; password?: string; port?: number }): string {
  const url = new URL(SERVERS[dialect]);
  if (change.database !== undefined) url.pathname = `/${change.database}`;
  if (change.user !== undefined) url.username = change.user;
  if (change.password !== undefined) url.password = change.password;
  if (change.port !== undefined) url.port = String(change.port);
  return url.toString();
}

async function migrationError(url: string): Promise<string> {
  const store = openStore(url);
  try {
    await migrateToLatest(store);
  } catch (error) {
    return (error as Error).message;
  } finally {
    await store.close();
  }
  throw new Error(`migrating ${url} succeeded`);
}

const missingName = () => `fogline_missing_${randomBytes(4).toString('hex')}`;

// Defined only for the dialects asked for (DIALECTS=sqlite is a quick local loop), like the store suite.
if (DIALECTS.includes('postgres'))
  describe('PostgreSQL errors at start-up', () => {
    it('a missing database: says so once, without an empty migration name, and names the createdb command', async () => {
      const name = missingName();
      const message = await migrationError(variant('postgres', { database: name }));
      const { hostname, port, username } = new URL(SERVERS.postgres);
      const portFlag = port && port !== '5432' ? ` -p ${port}` : '';
      expect(message).toBe(`database "${name}" does not exist. Create it first: createdb -h ${hostname}${portFlag} -U ${username} ${name}`);
    });

    it('a user the server does not know: check the user name', async () => {
      const message = await migrationError(variant('postgres', { user: missingName() }));
      expect(message).toMatch(
        /^role "fogline_missing_\w+" does not exist\. Check the user name in the database URL \(--db \/ FOGLINE_DB\)/,
      );
    });

    it('nothing listening: start PostgreSQL or fix the host and port', async () => {
      const port = await freePort();
      const message = await migrationError(variant('postgres', { port }));
      expect(message).toContain(`Nothing accepts connections at 127.0.0.1:${port}: start PostgreSQL there, or fix the host and port`);
    });
  });

if (DIALECTS.includes('mysql'))
  describe('MariaDB errors at start-up', () => {
    it('a missing database ("Unknown database"): names the CREATE DATABASE statement', async () => {
      const name = missingName();
      const message = await migrationError(variant('mysql', { database: name }));
      const { hostname, port, username } = new URL(SERVERS.mysql);
      const portFlag = port && port !== '3306' ? ` -P ${port}` : '';
      expect(message).toBe(
        `Unknown database '${name}'. Create it first: mariadb -h ${hostname}${portFlag} -u ${username} -e 'CREATE DATABASE ${name}'`,
      );
    });

    it('a wrong password: check the user name and password', async () => {
      const message = await migrationError(variant('mysql', { database: missingName(), password: 'not-the-password' }));
      expect(message).toMatch(
        /^Access denied for user .*\. Check the user name and password in the database URL \(--db \/ FOGLINE_DB\)\.$/,
      );
    });

    it('nothing listening: start MariaDB or fix the host and port', async () => {
      const port = await freePort();
      const message = await migrationError(variant('mysql', { database: missingName(), port }));
      expect(message).toContain(`Nothing accepts connections at 127.0.0.1:${port}: start MariaDB there, or fix the host and port`);
    });
  });

describe('the create commands the hints name', () => {
  it('carry a port other than the default, the user, and -p where the URL has a password', () => {
    const create = (url: string) => createDatabaseCommand(parseDatabaseUrl(url));
    expect(create('postgres://fog:secret@db.lan:6432/fogline')).toBe('createdb -h db.lan -p 6432 -U fog fogline');
    expect(create('postgresql://db.lan/fogline')).toBe('createdb -h db.lan fogline');
    expect(create('mariadb://fog:secret@db.lan:3307/fog-line')).toBe("mariadb -h db.lan -P 3307 -u fog -p -e 'CREATE DATABASE `fog-line`'");
    expect(create('sqlite:/var/lib/fogline.db')).toBeUndefined();
  });
});
