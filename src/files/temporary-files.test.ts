import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sweepTemporaryFiles } from './temporary-files.js';

/** The pid of a process that has ended. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  return Number(child.stdout.trim());
}

describe('sweepTemporaryFiles', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("removes what ended processes left half-written, keeps live writers' files and resumable downloads", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fogline-sweep-'));
    dirs.push(dir);
    const dead = deadPid();
    const live = process.ppid;
    const write = (relative: string, content = 'x') => {
      fs.mkdirSync(path.dirname(path.join(dir, relative)), { recursive: true });
      fs.writeFileSync(path.join(dir, relative), content);
      return path.join(dir, relative);
    };
    const gone = [
      write(`artifacts/tmp/${dead}-0a1b2c`),
      write(`datasets/tmp/${dead}-3d4e5f`),
      write(`federated/tmp/${process.pid}-ffffff`),
      write(`node.json.${dead}.tmp`),
      write(`cache/abc123.${dead}.1700000000000.tmp/series.bin`).replace(/\/series\.bin$/, ''),
    ];
    const oldLive = write(`admin.token.${live}.tmp`);
    fs.utimesSync(oldLive, new Date(Date.now() - 2 * 86_400_000), new Date(Date.now() - 2 * 86_400_000));
    gone.push(oldLive);
    const kept = [
      write(`artifacts/tmp/${live}-777777`),
      write(`registry-key.pem.${live}.tmp`),
      write(`artifacts/${'a'.repeat(64)}.partial`),
      write('node.json'),
      write(`cache/abc123/series.bin`),
    ];
    expect(sweepTemporaryFiles(dir).sort()).toEqual(gone.sort());
    for (const file of gone) expect(fs.existsSync(file), file).toBe(false);
    for (const file of kept) expect(fs.existsSync(file), file).toBe(true);
  });

  it('is quiet about a data dir that does not exist yet', () => {
    expect(sweepTemporaryFiles(path.join(os.tmpdir(), 'fogline-no-such-dir', 'x'))).toEqual([]);
  });
});
