/**
 * Storage faults with real file systems (tmpfs mounts; the suite runs as root, as CI does): a
 * read-only data folder stops the control plane and the agent at start with a message that says
 * what to change; a full disk refuses the upload that does not fit with a coded 507, removes
 * its partial file, and leaves what was stored before intact.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, ProcessTracker, runFogline, tempDir, type FoglineProcess } from '../support/processes.js';

function mountTmpfs(dir: string, options: string): void {
  if (process.getuid?.() !== 0) throw new Error('storage fault tests mount tmpfs file systems: run them as root (CI does)');
  fs.mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]);
}

function unmount(dir: string): void {
  try {
    execFileSync('umount', ['-l', dir]);
  } catch {
    // not mounted
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Rows of a valid hourly CSV, about `bytes` long. */
function csvOf(bytes: number): string {
  const lines = ['Datetime,PJME_MW'];
  let size = lines[0]!.length;
  for (let hour = 0; size < bytes; hour += 1) {
    const line = `${new Date(Date.UTC(2010, 0, 1) + hour * 3_600_000).toISOString().slice(0, 19).replace('T', ' ')},${30000 + (hour % 24) * 100}`;
    lines.push(line);
    size += line.length + 1;
  }
  return `${lines.join('\n')}\n`;
}

describe('storage faults (real file systems)', { timeout: 120_000 }, () => {
  const root = tempDir('storage-faults');
  const readOnly = path.join(root, 'read-only');
  const small = path.join(root, 'small');
  const processes = new ProcessTracker();

  beforeAll(() => {
    mountTmpfs(readOnly, 'ro,size=1m');
    mountTmpfs(small, 'size=6m');
  });

  afterAll(async () => {
    await processes.stopAll();
    unmount(readOnly);
    unmount(small);
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('stops the control plane and the agent at start when their data folder cannot be written', async () => {
    const server = await runFogline(['server', '--data-dir', path.join(readOnly, 'data'), '--port', '0']);
    expect(server.code).not.toBe(0);
    expect(server.stderr).toMatch(
      /data folder .*read-only.* cannot be written \(the file system is read-only\): choose a writable --data-dir/,
    );
    const agent = await runFogline(['agent', '--data-dir', path.join(readOnly, 'agent'), '--server', 'http://127.0.0.1:9', '--port', '0']);
    expect(agent.code).not.toBe(0);
    expect(agent.stderr).toMatch(
      /cannot be written \(the file system is read-only\): choose a writable --data-dir \(FOGLINE_AGENT_DATA_DIR\)/,
    );
  });

  it('refuses an upload that does not fit with 507, leaves no partial file, and keeps what was stored', async () => {
    const dataDir = path.join(small, 'data');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const server: FoglineProcess = processes.start(['server', '--data-dir', dataDir, '--port', String(port), '--log-level', 'fatal']);
    await server.waitForOutput(/listening on/, 30_000);
    const token = fs.readFileSync(path.join(dataDir, 'admin.token'), 'utf8').trim();
    const upload = (name: string, body: string) =>
      fetch(`${url}/api/v1/datasets/${name}/versions?timeColumn=Datetime&valueColumn=PJME_MW`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv' },
        body,
      });

    const first = await upload('fits', csvOf(200_000));
    expect(first.status).toBe(201);
    const stored = (await first.json()) as { sha256: string; rows: number };

    const tooBig = await upload('too-big', csvOf(8_000_000));
    expect(tooBig.status).toBe(507);
    expect(tooBig.headers.get('content-type')).toMatch(/json/);
    expect(await tooBig.json()).toMatchObject({ code: 'FOGLINE_ERR_STORAGE_FULL', message: expect.stringMatching(/free space/) });

    // Nothing half-written: no temporary file left, no dataset row for the refused upload.
    const leftovers = fs.readdirSync(path.join(dataDir, 'datasets', 'tmp'));
    expect(leftovers).toEqual([]);
    const list = await fetch(`${url}/api/v1/datasets`, { headers: { authorization: `Bearer ${token}` } });
    const names = ((await list.json()) as { datasets: { name: string }[] }).datasets.map((d) => d.name);
    expect(names).toEqual(['fits']);
    const again = await fetch(`${url}/api/v1/datasets/fits/versions/1`, { headers: { authorization: `Bearer ${token}` } });
    expect(await again.json()).toMatchObject({ sha256: stored.sha256 });
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
  });
});
