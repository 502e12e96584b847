/**
 * `fogline backup` while a real control plane runs and writes, `fogline restore` into a fresh
 * folder, and a server started there holding everything: models, dataset versions, tokens, and
 * artifacts that download with a valid registry signature.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster } from '../support/cluster.js';
import { cleanFoglineEnv, freePort, requestJson, runFogline, tempDir } from '../support/processes.js';

const SMALL_CSV = [
  'Datetime,PJME_MW',
  ...Array.from(
    { length: 48 },
    (_, hour) => `2018-01-0${1 + Math.floor(hour / 24)} ${String(hour % 24).padStart(2, '0')}:00:00,${30000 + hour}`,
  ),
].join('\n');

describe('fogline backup / restore', () => {
  let cluster: TestCluster;
  const workDir = tempDir('backup');
  const archive = path.join(workDir, 'fogline.tar');
  const restored = path.join(workDir, 'restored');

  beforeAll(async () => {
    cluster = await TestCluster.start('backup');
    await cluster.uploadPjme();
    await cluster.trainForecaster({ seed: 1, epochs: 1, hidden: [8] });
  }, 120_000);

  afterAll(async () => {
    await cluster.processes.stopAll();
    fs.rmSync(workDir, { recursive: true, force: true });
    fs.rmSync(cluster.serverDir, { recursive: true, force: true });
  });

  async function uploadSmall(): Promise<number> {
    const response = await fetch(`${cluster.url}/api/v1/datasets/small/versions?timeColumn=Datetime&valueColumn=PJME_MW`, {
      method: 'POST',
      headers: { authorization: `Bearer ${cluster.adminToken}`, 'content-type': 'text/csv' },
      body: `${SMALL_CSV}\n`,
    });
    expect(response.status).toBe(201);
    return ((await response.json()) as { version: number }).version;
  }

  it('backs up while the server writes, and a server on the restored folder has it all', { timeout: 120_000 }, async () => {
    const viewer = await cluster.api<{ token: string }>('POST', '/api/v1/tokens', { name: 'dashboard', role: 'viewer' });
    expect(viewer.status).toBe(201);
    const before = [await uploadSmall()];

    // Writers go on while the backup runs: dataset versions, one after the other.
    let writing = true;
    const during: number[] = [];
    const writer = (async () => {
      while (writing) during.push(await uploadSmall());
    })();
    const backup = await runFogline(['backup', archive, '--data-dir', cluster.serverDir], cleanFoglineEnv(), workDir);
    writing = false;
    await writer;
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.stdout).toMatch(/Wrote .*fogline\.tar: the database and \d+ files/);
    expect(during.length).toBeGreaterThan(0);

    // A running server's folder is refused.
    const busy = await runFogline(['restore', archive, '--data-dir', cluster.serverDir, '--force'], cleanFoglineEnv(), workDir);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(/A control plane \(pid \d+.*\) runs on/);

    const restore = await runFogline(['restore', archive, '--data-dir', restored], cleanFoglineEnv(), workDir);
    expect(restore.code, restore.stderr).toBe(0);
    // Not twice into the same folder without --force.
    const again = await runFogline(['restore', archive, '--data-dir', restored], cleanFoglineEnv(), workDir);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/is not empty: .*--force/);
    expect(fs.readdirSync(workDir).filter((name) => name.startsWith('.fogline-'))).toEqual([]);

    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const server = cluster.processes.start(['server', '--data-dir', restored, '--port', String(port), '--log-level', 'warn']);
    await server.waitForOutput(/listening on/, 30_000);
    const admin = fs.readFileSync(path.join(restored, 'admin.token'), 'utf8').trim();
    expect(admin).toBe(cluster.adminToken);

    const versions = await requestJson<{ versions: { version: number }[] }>(`${url}/api/v1/models/energy/versions`, { token: admin });
    expect(versions.status).toBe(200);
    expect(JSON.stringify(versions.body)).toMatch(/"version":1/);
    // The viewer token made before the backup still signs in.
    expect((await requestJson(`${url}/api/v1/models`, { token: viewer.body.token })).status).toBe(200);
    // Every dataset version written before the backup began is there, bytes and all.
    for (const version of before) {
      const file = await fetch(`${url}/api/v1/datasets/small/versions/${version}/file`, { headers: { authorization: `Bearer ${admin}` } });
      expect(file.status).toBe(200);
      expect(await file.text()).toBe(`${SMALL_CSV}\n`);
    }
    // The model's bundle downloads with the registry's signature verified (same signing key).
    const download = await runFogline(
      [
        'models',
        'download',
        'energy',
        '--version',
        '1',
        '--output',
        path.join(workDir, 'energy.fogline'),
        '--server',
        url,
        '--token',
        admin,
      ],
      cleanFoglineEnv(),
      workDir,
    );
    expect(download.code, download.stderr).toBe(0);
    expect(download.stdout).toMatch(/ed25519 signature verified/);
  });

  it('refuses a damaged archive and writes nothing', { timeout: 30_000 }, async () => {
    const damaged = path.join(workDir, 'damaged.tar');
    const bytes = fs.readFileSync(archive);
    const middle = Math.floor(bytes.length / 2);
    bytes[middle] = (bytes[middle] as number) ^ 0x10;
    fs.writeFileSync(damaged, bytes);
    const target = path.join(workDir, 'from-damaged');
    const result = await runFogline(['restore', damaged, '--data-dir', target], cleanFoglineEnv(), workDir);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/the archive is damaged or not a Fogline backup .*nothing was restored/);
    expect(fs.existsSync(target)).toBe(false);
    expect(fs.readdirSync(workDir).filter((name) => name.startsWith('.fogline-'))).toEqual([]);
  });

  it('sends PostgreSQL and MariaDB installs to their own dump tools (exit 2)', async () => {
    for (const [db, tool] of [
      ['postgres://fogline@127.0.0.1/fogline', /pg_dump/],
      ['mysql://fogline@127.0.0.1/fogline', /mariadb-dump/],
    ] as const) {
      const result = await runFogline(
        ['backup', path.join(workDir, 'x.tar'), '--data-dir', workDir, '--db', db],
        cleanFoglineEnv(),
        workDir,
      );
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(tool);
    }
  });
});
