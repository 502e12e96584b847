/**
 * `fogline server --migrate-only`: the upgrade job of a Kubernetes init container or a compose
 * one-shot service. It migrates the database to this version's schema and exits 0 without
 * listening; run again, it has nothing to apply. On SQLite (a fresh data dir) and PostgreSQL.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { allMigrations } from '../../src/store/migrations/index.js';
import { appliedMigrations, openStore } from '../../src/store/store.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { cleanFoglineEnv, runFogline, tempDir } from '../support/processes.js';

const dirs: string[] = [];
const databases: TestDatabase[] = [];

afterAll(async () => {
  await Promise.all(databases.map((database) => database.drop()));
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

async function migrationsIn(url: string): Promise<string[]> {
  const store = openStore(url);
  try {
    return await appliedMigrations(store);
  } finally {
    await store.close();
  }
}

describe.each(['sqlite', 'postgres'] as const)('fogline server --migrate-only on %s', (dialect) => {
  it('migrates a fresh database, exits 0 without listening, and finds nothing to apply the second time', async () => {
    const dataDir = tempDir('migrate-only');
    dirs.push(dataDir);
    const args = ['server', '--migrate-only', '--data-dir', dataDir, '--port', '0'];
    let url = `sqlite:${path.join(dataDir, 'fogline.db')}`;
    if (dialect === 'postgres') {
      const database = await createTestDatabase('postgres');
      databases.push(database);
      url = database.url;
      args.push('--db', url);
    }
    const expected = Object.keys(allMigrations(dialect)).sort();

    const first = await runFogline(args, cleanFoglineEnv());
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain(`Migrated the database: applied ${expected.length} migrations (${expected[0]}`);
    expect(first.stdout).not.toMatch(/listening/);
    // It did not start a control plane: no admin token, no server.json for the CLI to find.
    expect(fs.readdirSync(dataDir).filter((file) => !file.startsWith('fogline.db'))).toEqual([]);
    expect((await migrationsIn(url)).sort()).toEqual(expected);

    const second = await runFogline(args, cleanFoglineEnv());
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('The database schema is up to date: no migration to apply');
  }, 60_000);
});

describe('fogline server --migrate-only when the database cannot be reached', () => {
  it('exits 3 and says which database it could not prepare', async () => {
    const dataDir = tempDir('migrate-only-down');
    dirs.push(dataDir);
    // Port 1 on this machine: nothing listens there, the connection is refused at once.
    const result = await runFogline(
      ['server', '--migrate-only', '--data-dir', dataDir, '--db', 'postgres://fogline:secret@127.0.0.1:1/fogline'],
      cleanFoglineEnv(),
    );
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toMatch(/^error: Could not prepare the database postgres:\/\/fogline:\*+@127\.0\.0\.1:1\/fogline: /m);
    expect(result.stderr).not.toContain('secret');
  }, 30_000);
});
