import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SQLITE_ONE_CONTROL_PLANE } from '../../src/cluster/single-replica.js';
import { openStore } from '../../src/store/store.js';
import { startTestControlPlane, type TestControlPlane } from '../support/control-plane.js';
import { tempDir } from '../support/processes.js';

describe('one control plane on a SQLite database', () => {
  const started: TestControlPlane[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((cp) => cp.close()));
  });

  it('refuses a second control plane on the same database, and lets one start once the first stopped', async () => {
    const first = await startTestControlPlane();
    started.push(first);
    const db = `sqlite:${path.join(first.dataDir, 'fogline.db')}`;
    await expect(startTestControlPlane({ db, dataDir: tempDir('cp-second') })).rejects.toThrow(
      `Another control plane (process ${process.pid} on this machine) uses this SQLite database. ${SQLITE_ONE_CONTROL_PLANE}`,
    );
    // The refused one left the first alone: it still leads.
    const metrics = await first.call('GET', '/metrics', { token: first.adminToken });
    expect(metrics.body).toMatch(/^fogline_control_plane_leader 1$/m);
    expect(metrics.headers.get('x-fogline-control-plane-role')).toBe('leader');
    await started.pop()!.close();
    // Stopped: the lease was released, so a restart does not wait for it to expire.
    const restarted = await startTestControlPlane({ db, dataDir: first.dataDir });
    started.push(restarted);
    expect((await restarted.call('GET', '/readyz')).headers.get('x-fogline-control-plane-role')).toBe('leader');
  });

  it('takes over at once from a killed control plane on this machine (its pid is gone)', async () => {
    const dataDir = tempDir('cp-killed');
    const db = `sqlite:${path.join(dataDir, 'fogline.db')}`;
    const first = await startTestControlPlane({ dataDir });
    await first.close();
    // As a kill -9 leaves it: held for another 60 s by a process that no longer exists.
    const gone = spawnSync(process.execPath, ['-e', '0']).pid;
    const store = openStore(db);
    await store.db
      .updateTable('leases')
      .set({ holder: 'cp_killed', pid: gone, expires_at: Date.now() + 60_000 })
      .execute();
    await store.close();
    const startedAt = Date.now();
    const restarted = await startTestControlPlane({ dataDir });
    started.push(restarted);
    expect(Date.now() - startedAt).toBeLessThan(10_000);
    expect((await restarted.call('GET', '/readyz')).headers.get('x-fogline-control-plane-role')).toBe('leader');
  });
});
