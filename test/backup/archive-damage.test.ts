/**
 * Any truncation or single bit flip of a backup archive is refused with a clear error, and the
 * restore writes nothing: not the data folder, not the database, no scratch folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackupRefused, createBackup, restoreBackup } from '../../src/backup/backup.js';
import { ArchiveError } from '../../src/backup/tar.js';
import { tempDir } from '../support/processes.js';

describe('a damaged backup archive', () => {
  const workDir = tempDir('backup-damage');
  const source = path.join(workDir, 'source');
  const archive = path.join(workDir, 'good.tar');
  let good: Buffer;

  beforeAll(async () => {
    fs.mkdirSync(path.join(source, 'artifacts', 'energy'), { recursive: true });
    const db = new Database(path.join(source, 'fogline.db'));
    db.exec("CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('a'), ('b');");
    db.close();
    fs.writeFileSync(path.join(source, 'admin.token'), 'fgl.admin\n');
    fs.writeFileSync(path.join(source, 'signing-key.pem'), '-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n');
    fs.writeFileSync(path.join(source, 'artifacts', 'energy', '1.bundle'), Buffer.alloc(700, 7));
    fs.writeFileSync(path.join(source, 'artifacts', 'energy', 'empty'), '');
    // An upload in progress when the backup runs: the server renames or removes it at any moment.
    fs.mkdirSync(path.join(source, 'datasets', 'tmp'), { recursive: true });
    fs.writeFileSync(path.join(source, 'datasets', 'tmp', '4242-0a1b2c'), 'half a dataset');
    await createBackup({ dataDir: source, db: `sqlite:${path.join(source, 'fogline.db')}` }, archive);
    good = fs.readFileSync(archive);
  });

  afterAll(() => {
    fs.rmSync(workDir, { recursive: true, force: true });
  });

  async function restoreBytes(bytes: Buffer): Promise<unknown> {
    const file = path.join(workDir, 'candidate.tar');
    fs.writeFileSync(file, bytes);
    const target = path.join(workDir, 'target');
    try {
      await restoreBackup({ dataDir: target, db: `sqlite:${path.join(target, 'fogline.db')}` }, file, { force: false });
      return undefined;
    } catch (error) {
      return error;
    } finally {
      const leftovers = fs.readdirSync(workDir).filter((name) => name === 'target' || name.startsWith('.fogline-'));
      fs.rmSync(target, { recursive: true, force: true });
      expect(leftovers).toEqual([]);
    }
  }

  it('restores the intact archive, without uploads that were in progress (the check below is not vacuous)', async () => {
    const target = path.join(workDir, 'intact');
    await restoreBackup({ dataDir: target, db: `sqlite:${path.join(target, 'fogline.db')}` }, archive, { force: false });
    expect(fs.readFileSync(path.join(target, 'artifacts', 'energy', '1.bundle'))).toEqual(Buffer.alloc(700, 7));
    expect(fs.readFileSync(path.join(target, 'artifacts', 'energy', 'empty'), 'utf8')).toBe('');
    expect(fs.existsSync(path.join(target, 'datasets', 'tmp'))).toBe(false);
    const db = new Database(path.join(target, 'fogline.db'), { readonly: true });
    expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 2 });
    db.close();
    fs.rmSync(target, { recursive: true });
  });

  it('refuses every truncation', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: good.length - 1 }), async (length) => {
        expect(await restoreBytes(good.subarray(0, length))).toBeInstanceOf(ArchiveError);
      }),
      { numRuns: 150 },
    );
  });

  it('refuses every bit flip in the first header', { timeout: 60_000 }, async () => {
    for (let offset = 0; offset < 512; offset++) {
      for (let bit = 0; bit < 8; bit++) {
        const bytes = Buffer.from(good);
        bytes[offset] = (bytes[offset] as number) ^ (1 << bit);
        const error = await restoreBytes(bytes);
        expect(error, `bit ${bit} of byte ${offset}`).toBeInstanceOf(ArchiveError);
      }
    }
  });

  it('refuses every single bit flip', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: good.length - 1 }), fc.integer({ min: 0, max: 7 }), async (offset, bit) => {
        const bytes = Buffer.from(good);
        bytes[offset] = (bytes[offset] as number) ^ (1 << bit);
        const error = await restoreBytes(bytes);
        expect(error instanceof ArchiveError || error instanceof BackupRefused, String(error)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
