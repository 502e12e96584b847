import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { allMigrations } from '../../src/store/migrations/index.js';
import { openStore } from '../../src/store/store.js';
import { createTestDatabase, DIALECTS } from '../support/databases.js';
import { startFogline, stopProcess, tempDir } from '../support/processes.js';

describe.each(DIALECTS)('two servers starting at once on one %s database', (dialect) => {
  // PostgreSQL and MariaDB take replicas; SQLite takes one control plane, and the other is refused.
  const bothServe = dialect !== 'sqlite';
  it(`migrate it once, create one admin token between them, and ${bothServe ? 'both serve' : 'one serves while the other is refused'}`, async () => {
    const database = await createTestDatabase(dialect);
    const servers = [0, 1].map((i) =>
      startFogline(['server', '--db', database.url, '--data-dir', path.join(tempDir(`race${i}`)), '--port', '0', '--log-level', 'warn']),
    );
    try {
      if (bothServe) await Promise.all(servers.map((server) => server.waitForOutput(/listening on (http:\S+)/, 30_000)));
      else {
        const outcomes = await Promise.all(
          servers.map(async (server) => {
            try {
              await server.waitForOutput(/listening on (http:\S+)/, 30_000);
              return 'serves';
            } catch {
              // It exited: it must say why, and what to use instead.
              return server.output().includes('SQLite supports one control plane') ? 'refused' : `exited: ${server.output()}`;
            }
          }),
        );
        expect(outcomes.sort()).toEqual(['refused', 'serves']);
      }
      const store = openStore(database.url);
      try {
        const rows = await store.db
          .selectFrom('fogline_migrations' as never)
          .select('name' as never)
          .execute();
        const names = rows.map((row) => (row as { name: string }).name).sort();
        expect(names).toEqual(Object.keys(allMigrations(dialect)).sort());
        const admins = await store.db.selectFrom('tokens').select('id').where('role', '=', 'admin').execute();
        expect(admins).toHaveLength(1);
        const announced = servers.filter((server) => server.output().includes('Admin token (shown once'));
        expect(announced).toHaveLength(1);
      } finally {
        await store.close();
      }
    } finally {
      await Promise.all(servers.map((server) => stopProcess(server)));
      await database.drop();
    }
  });
});
