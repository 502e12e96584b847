/**
 * The exit codes systemd, Kubernetes and compose act on (src/cli/exit-codes.ts): a bad setting
 * exits 2 and a taken port 4, so that a supervisor can tell them from a crash (1) that a restart
 * may cure; a database that cannot be reached exits 3 (test/release/migrate-only.test.ts).
 */
import fs from 'node:fs';
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanFoglineEnv, runFogline, tempDir } from '../support/processes.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = tempDir('exit-codes');
  dirs.push(dir);
  return dir;
}

describe('exit codes of the long-running processes', () => {
  it('exits 2 on a malformed flag, an unknown flag or a bad FOGLINE_* value', async () => {
    const malformed = await runFogline(['server', '--data-dir', dataDir(), '--port', 'eighty'], cleanFoglineEnv());
    expect(malformed.code, malformed.stderr).toBe(2);
    expect(malformed.stderr).toContain('error: --port must be a port number from 0 to 65535, got "eighty"');

    const unknown = await runFogline(['server', '--prot', '7070'], cleanFoglineEnv());
    expect(unknown.code, unknown.stderr).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option '--prot'/);

    const fromEnv = await runFogline(['agent'], cleanFoglineEnv({ FOGLINE_SERVER: 'http://127.0.0.1:1', FOGLINE_AGENT_PORT: '70000' }));
    expect(fromEnv.code, fromEnv.stderr).toBe(2);
    expect(fromEnv.stderr).toContain('FOGLINE_AGENT_PORT must be a port number from 0 to 65535, got "70000"');
  }, 60_000);

  it('exits 4 when the port is taken, without touching what listens there', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const result = await runFogline(['server', '--data-dir', dataDir(), '--port', String(port)], cleanFoglineEnv());
      expect(result.code, result.stderr).toBe(4);
      expect(result.stderr).toContain(`error: port ${port} on 127.0.0.1 is in use (another fogline server?)`);
      expect(taken.listening).toBe(true);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  }, 60_000);

  it('leaves client commands at 1 for any error, as before', async () => {
    const result = await runFogline(['nodes', 'list', '--server', 'http://127.0.0.1:1', '--token', 'fgl.x'], cleanFoglineEnv());
    expect(result.code, result.stderr).toBe(1);
  }, 30_000);
});
