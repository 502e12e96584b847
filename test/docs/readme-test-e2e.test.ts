/**
 * The docs test (scripts/readme-test.js) run for real on the fixtures in test/docs/fixtures/: a
 * passing walkthrough against `npm start` in a temporary copy of the repository (ports
 * 7470-7473), a failing one (its report, and that it cleans up), Ctrl-C in the middle, a port in
 * use and a bad marker. Needs the build (`npm run build`).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, isPortFree, tempDir } from '../support/processes.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = path.join(ROOT, 'scripts/readme-test.js');
const fixture = (name: string) => `test/docs/fixtures/${name}`;

interface Run {
  stdout: () => string;
  exited: Promise<number | null>;
  kill: (signal: NodeJS.Signals) => void;
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function runDocsTest(args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const child = spawn(process.execPath, [SCRIPT, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  cleanups.push(() => child.kill('SIGKILL'));
  return { stdout: () => stdout, exited, kill: (signal) => child.kill(signal) };
}

/** The temporary folder the run announced on its first line. */
const tempFolderOf = (stdout: string) => /, in (\S+)\/fogline\n/.exec(stdout)?.[1];

/** Whether the process lives (a zombie, dead but not yet reaped by init, does not count). */
function alive(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

const pidsIn = (dir: string) => fs.readdirSync(dir).map((file) => Number(fs.readFileSync(path.join(dir, file), 'utf8')));

describe('scripts/readme-test.js', { timeout: 180_000 }, () => {
  it('runs a walkthrough against `npm start` in a fresh copy: shared shell state, background blocks, checked output', async () => {
    const run = runDocsTest(['--file', fixture('readme-pass.md'), '--ports', '7470-7473']);
    const code = await run.exited;
    const stdout = run.stdout();
    expect(stdout.trimEnd().split('\n').at(-1), stdout).toBe('8 passed, 0 failed');
    expect(code).toBe(0);
    expect(stdout).toContain('exit code 1 as expected');
    const folder = tempFolderOf(stdout);
    expect(folder).toBeDefined();
    expect(fs.existsSync(folder!)).toBe(false);
    // the cluster and the third agent were stopped
    for (const port of [7470, 7471, 7472, 7473]) expect(await isPortFree(port)).toBe(true);
  });

  it('reports a drifted output and a failing block, stops there, and stops what it started', async () => {
    const pidDir = tempDir('readme-test-pids');
    cleanups.push(() => fs.rmSync(pidDir, { recursive: true, force: true }));
    const run = runDocsTest(['--file', fixture('readme-fail.md'), '--ports', 'none'], { PID_DIR: pidDir });
    const code = await run.exited;
    const stdout = run.stdout();
    expect(code, stdout).toBe(1);
    expect(stdout.trimEnd().split('\n').at(-1)).toBe('1 passed, 2 failed');
    // the drift: which shown line, and the output line where it was expected
    expect(stdout).toContain("its output no longer matches the README's (test/docs/fixtures/readme-fail.md:25)");
    expect(stdout).toContain('first shown line without a match (test/docs/fixtures/readme-fail.md:26):\n        | NAME    STATE');
    expect(stdout).toContain('      > | NAME    STATUS');
    // the failure: exit code, the block, its output up to the failing command; nothing after it ran
    expect(stdout).toContain('FAILED: exit code 127');
    expect(stdout).toContain('         36 | fogline-no-such-command --help');
    // bash's error names the fixture's own line
    expect(stdout).toContain('        | about to fail\n        | ');
    expect(stdout).toContain('/readme-fail.md: line 36: fogline-no-such-command: command not found');
    expect(stdout).not.toContain('        | never printed');
    expect(stdout).toContain('1 block(s) not run after this failure');
    expect(stdout).not.toContain('[4/4]');
    // the background block's shell and the sleep it started are gone, and so is the folder
    const pids = pidsIn(pidDir);
    expect(pids).toHaveLength(2);
    expect(pids.filter(alive)).toEqual([]);
    expect(fs.existsSync(tempFolderOf(stdout)!)).toBe(false);
  });

  it('on Ctrl-C stops the running block and the background ones, and removes its folder', async () => {
    const pidDir = tempDir('readme-test-pids');
    cleanups.push(() => fs.rmSync(pidDir, { recursive: true, force: true }));
    const run = runDocsTest(['--file', fixture('readme-interrupt.md'), '--ports', 'none'], { PID_DIR: pidDir });
    // `echo $! > file` creates the file before it writes the pid: wait for both pids, not the files.
    const deadline = Date.now() + 60_000;
    const written = () => fs.readdirSync(pidDir).length === 2 && pidsIn(pidDir).every((pid) => pid > 0);
    while (!written() && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const pids = pidsIn(pidDir);
    expect(pids.filter(alive)).toHaveLength(2);
    run.kill('SIGINT');
    const code = await run.exited;
    const stdout = run.stdout();
    expect(code, stdout).toBe(130);
    expect(stdout).toContain('readme-test: interrupted; 1 block(s) not run');
    expect(pids.filter(alive)).toEqual([]);
    expect(fs.existsSync(tempFolderOf(stdout)!)).toBe(false);
  });

  it('refuses to start when a port it needs is taken, and says so', async () => {
    const port = await freePort();
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    cleanups.push(() => server.close());
    const run = runDocsTest(['--file', fixture('readme-pass.md'), '--ports', String(port)]);
    expect(await run.exited).toBe(2);
    expect(run.stdout()).toContain(`readme-test: port ${port} is in use`);
    expect(run.stdout()).not.toContain('[1/');
  });

  it('refuses a file with a bad marker, naming the line', async () => {
    const dir = tempDir('readme-test-md');
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    fs.writeFileSync(path.join(dir, 'BAD.md'), '# Bad\n\n<!-- readme-test: run timout=5 -->\n```sh\necho hi\n```\n');
    const run = runDocsTest(['--file', path.join(dir, 'BAD.md'), '--ports', 'none']);
    expect(await run.exited).toBe(2);
    expect(run.stdout()).toContain(`${path.join(dir, 'BAD.md')}:3: bad readme-test marker: unknown option "timout"`);
  });
});
