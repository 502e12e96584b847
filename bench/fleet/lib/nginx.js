// Debian's real nginx in front of the bench's control-plane replicas, configured as
// deploy/nginx/README.md says: deploy/nginx/render.sh writes the http-context file and a minimal
// nginx.conf of the bench's own (prefix, pid, temporary folders, error log to stderr, all in a
// temporary folder) includes it, so the system's nginx and its files are never touched. The same
// set-up as test/support/nginx.ts (TypeScript, which the plain-JS benches cannot import).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { trackChild } from './server.js';

const RENDER_SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../deploy/nginx/render.sh');

/** nginx's absolute path: on PATH, or in /usr/sbin and /sbin (where Debian puts it, off a non-root PATH). */
export function findNginx() {
  try {
    return execFileSync('sh', ['-c', 'PATH="$PATH:/usr/sbin:/sbin" command -v nginx'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error("nginx is not installed: --nginx needs Debian's nginx (scripts/install-test-deps.sh installs nginx-light)");
  }
}

/**
 * Renders the shipped configuration for `replicas` (host:port), checks it with `nginx -t`, starts
 * nginx on 127.0.0.1:`port` with `workerProcesses` workers and waits until /healthz answers
 * through it. Returns { url, pid, workerPids(), errorLog(), stop() }.
 */
export async function startNginx({ port, replicas, workerProcesses = 1, workerConnections = 4096 }) {
  const binary = findNginx();
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'fogline-fleet-nginx-'));
  // nginx's workers run as nobody when the bench runs as root: they must reach the temporary folders.
  fs.chmodSync(prefix, 0o755);
  const rendered = spawnSync('sh', [RENDER_SCRIPT, '--listen', `127.0.0.1:${port}`, ...replicas], { encoding: 'utf8' });
  if (rendered.status !== 0) throw new Error(`render.sh failed: ${rendered.stderr}`);
  fs.writeFileSync(path.join(prefix, 'fogline.conf'), rendered.stdout);
  const configFile = path.join(prefix, 'nginx.conf');
  fs.writeFileSync(
    configFile,
    [
      'daemon off;',
      `worker_processes ${workerProcesses};`,
      `pid ${path.join(prefix, 'nginx.pid')};`,
      'error_log stderr warn;',
      `events { worker_connections ${workerConnections}; }`,
      'http {',
      '  access_log off;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `  ${kind}_temp_path ${path.join(prefix, kind)};`),
      `  include ${path.join(prefix, 'fogline.conf')};`,
      '}',
      '',
    ].join('\n'),
  );
  const removePrefix = () => fs.rmSync(prefix, { recursive: true, force: true });
  const tested = spawnSync(binary, ['-t', '-c', configFile, '-p', `${prefix}/`], { encoding: 'utf8' });
  if (tested.status !== 0) {
    removePrefix();
    throw new Error(`nginx -t refused the configuration:\n${tested.stdout}${tested.stderr}`);
  }

  const child = spawn(binary, ['-c', configFile, '-p', `${prefix}/`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (chunk) => {
    log = (log + chunk.toString()).slice(-8192);
  });
  const lifetime = trackChild(child);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    // SIGTERM: the master stops its workers, then exits.
    await lifetime.stop(5000);
    removePrefix();
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (lifetime.exited) {
      removePrefix();
      throw new Error(`nginx exited before answering: ${log}`);
    }
    try {
      const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`nginx did not answer on ${url}/healthz within 15 s: ${log}`);
    }
    await sleep(100);
  }
  return {
    url,
    pid: child.pid,
    /** The master's children (the workers), read from /proc. */
    workerPids: () => childPidsOf(child.pid),
    unexpectedExit: () => (lifetime.unexpectedExit() ? `nginx (pid ${child.pid}) exited during the run: ${log.trim()}` : undefined),
    errorLog: () => log,
    stop,
  };
}

/** Pids whose parent is `pid` (from /proc/<pid>/task/<pid>/children, which Linux keeps for every task). */
function childPidsOf(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
