/**
 * A real nginx (Debian's) in front of `fogline server` replicas, as deploy/nginx/README.md sets
 * it up: deploy/nginx/render.sh writes the http-context file, and a minimal nginx.conf of the
 * test's own (its prefix, pid, temporary folders and error log in a temporary folder) includes it.
 * It never touches the system's nginx or its files.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually, tempDir } from './processes.js';

const DEPLOY_DIR = fileURLToPath(new URL('../../deploy/nginx/', import.meta.url));
export const RENDER_SCRIPT = path.join(DEPLOY_DIR, 'render.sh');

/** Runs deploy/nginx/render.sh with `args`; its exit status and what it printed. */
export function render(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('sh', [RENDER_SCRIPT, ...args], { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

export interface RunningNginx {
  url: string;
  /** The main configuration file (nginx -c). */
  configFile: string;
  /** The prefix folder (nginx -p): temporary folders, pid file. */
  prefix: string;
  /** What nginx wrote to its error log (stderr) so far. */
  errorLog(): string;
  /** `nginx <args>` against this configuration (`-t`, `-T`); status and output. */
  check(args: string[]): { status: number | null; output: string };
  stop(): Promise<void>;
}

/** Renders the shipped configuration for `replicas` (host:port), checks it with `nginx -t` and starts nginx on `port`. */
export async function startNginx(binary: string, port: number, replicas: string[]): Promise<RunningNginx> {
  const prefix = tempDir('nginx');
  // nginx's workers run as nobody when the tests run as root: they must reach the temporary folders.
  fs.chmodSync(prefix, 0o755);
  const rendered = render(['--listen', `127.0.0.1:${port}`, ...replicas]);
  if (rendered.status !== 0) throw new Error(`render.sh failed: ${rendered.stderr}`);
  fs.writeFileSync(path.join(prefix, 'fogline.conf'), rendered.stdout);
  const configFile = path.join(prefix, 'nginx.conf');
  fs.writeFileSync(
    configFile,
    [
      'daemon off;',
      'worker_processes 1;',
      `pid ${path.join(prefix, 'nginx.pid')};`,
      'error_log stderr notice;',
      'events { worker_connections 512; }',
      'http {',
      '  access_log off;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `  ${kind}_temp_path ${path.join(prefix, kind)};`),
      `  include ${path.join(prefix, 'fogline.conf')};`,
      '}',
      '',
    ].join('\n'),
  );
  const check = (args: string[]) => {
    const result = spawnSync(binary, [...args, '-c', configFile, '-p', `${prefix}/`], { encoding: 'utf8' });
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  };
  const tested = check(['-t']);
  if (tested.status !== 0) throw new Error(`nginx -t refused the configuration:\n${tested.output}`);

  const child: ChildProcess = spawn(binary, ['-c', configFile, '-p', `${prefix}/`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      // SIGTERM: the master stops its workers, then exits.
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(prefix, { recursive: true, force: true });
  };
  try {
    await eventually(async () => {
      if (child.exitCode !== null) throw new Error(`nginx exited: ${log}`);
      return (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) })).ok ? true : undefined;
    }, 15_000);
  } catch (error) {
    await stop();
    throw new Error(`nginx did not answer on ${url}: ${(error as Error).message}\n${log}`);
  }
  return { url, configFile, prefix, errorLog: () => log, check, stop };
}
