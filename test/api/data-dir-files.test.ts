/**
 * The control plane's data folder is private and tidy: every file it holds after a start, a
 * dataset upload and a training run (database, WAL, step cache, artifacts, keys) is readable by
 * its owner only (0600), and what a killed server left half-written (uploads under tmp/, step-cache
 * entries, files written by rename) is swept at the next start.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestControlPlane, type TestControlPlane } from '../support/control-plane.js';
import { tempDir } from '../support/processes.js';

/** Every regular file under `dir`, with its permission bits. */
function files(dir: string): Array<{ file: string; mode: number }> {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).flatMap((relative) => {
    const stat = fs.statSync(path.join(dir, relative));
    return stat.isFile() ? [{ file: relative, mode: stat.mode & 0o777 }] : [];
  });
}

describe('the data folder of a control plane', { timeout: 120_000 }, () => {
  const dataDir = tempDir('data-dir-files');
  let cp: TestControlPlane;
  const dead = Number(spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).stdout.trim());
  const leftovers = [
    `artifacts/tmp/${dead}-5eed5eed`,
    `datasets/tmp/${dead}-0ddba11`,
    `cache/${'c'.repeat(64)}.${dead}.1700000000000.tmp/series.bin`,
    `admin.token.${dead}.tmp`,
  ];

  beforeAll(async () => {
    for (const leftover of leftovers) {
      fs.mkdirSync(path.dirname(path.join(dataDir, leftover)), { recursive: true });
      fs.writeFileSync(path.join(dataDir, leftover), 'half written');
    }
    cp = await startTestControlPlane({ dataDir });
    await cp.uploadPjme();
    await cp.train(cp.adminToken, { pipeline: 'forecast', dataset: 'pjme', model: 'energy', params: { epochs: 1, hidden: [8], seed: 1 } });
  }, 100_000);

  afterAll(async () => {
    await cp?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('sweeps what a killed server left half-written at start-up', () => {
    for (const leftover of leftovers) expect(fs.existsSync(path.join(dataDir, leftover)), leftover).toBe(false);
    expect(fs.existsSync(path.join(dataDir, 'cache', `${'c'.repeat(64)}.${dead}.1700000000000.tmp`))).toBe(false);
  });

  it('holds only files its owner alone may read: the database, its WAL, the step cache and the rest', () => {
    const all = files(dataDir);
    expect(all.map((f) => f.file)).toEqual(expect.arrayContaining(['fogline.db', 'fogline.db-wal', 'admin.token', 'signing-key.pem']));
    expect(all.some((f) => f.file.startsWith('cache/'))).toBe(true);
    expect(all.filter((f) => f.mode !== 0o600).map((f) => `${f.file} ${f.mode.toString(8)}`)).toEqual([]);
  });
});
