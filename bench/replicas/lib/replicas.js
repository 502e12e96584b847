// Control-plane replicas for the bench: `fogline server` child processes sharing one PostgreSQL
// database, Redis and a signing key, each on its own data dir and fixed loopback port (a replica
// killed with SIGKILL comes back on the same address, where its agents look for it).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { redact, startServer } from '../../fleet/lib/server.js';

/** A free loopback port (the kernel's pick; closed again at once). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** A fresh ed25519 registry key (PEM) at `file`: one for every replica. */
export function makeSigningKey(file) {
  execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', file], { stdio: 'ignore' });
  fs.chmodSync(file, 0o600);
  return file;
}

/**
 * One replica: `start()` spawns it (again, after a kill) with bench/fleet/lib/server.js's
 * startServer and waits until it listens (server.json written by this pid); `kill()` sends SIGKILL;
 * `stop()` SIGTERM, SIGKILL after the grace.
 */
export class Replica {
  constructor({ label, dataDir, port, dbUrl, redisUrl, redisChannel, signingKeyFile, intervalSeconds = 15 }) {
    this.label = label;
    this.dataDir = dataDir;
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.dbUrl = dbUrl;
    this.intervalSeconds = intervalSeconds;
    this.extraArgs = [
      '--redis',
      redisUrl,
      ...(redisChannel ? ['--redis-channel', redisChannel] : []),
      '--artifact-store',
      'database',
      '--signing-key-file',
      signingKeyFile,
    ];
    this.server = undefined;
    fs.mkdirSync(dataDir, { recursive: true });
  }

  get pid() {
    return this.server?.pid;
  }

  get alive() {
    return Boolean(this.server && !this.server.lifetime.exited);
  }

  async start({ timeoutMs = 60_000 } = {}) {
    this.server = undefined;
    this.server = await startServer({
      dataDir: this.dataDir,
      dbUrl: this.dbUrl,
      intervalSeconds: this.intervalSeconds,
      port: this.port,
      extraArgs: this.extraArgs,
      startTimeoutMs: timeoutMs,
      label: `replica ${this.label}`,
      outputBytes: 16_384,
    });
    return this;
  }

  /** The bootstrap admin token: written only by the replica that created it (the first on an empty database). */
  adminToken() {
    return fs.readFileSync(path.join(this.dataDir, 'admin.token'), 'utf8').trim();
  }

  /** SIGKILL, as a crash: no lease release, no goodbye to Redis or the database. Resolves once it is gone. */
  async kill() {
    const exited = this.server.lifetime.exitPromise;
    this.server.child.kill('SIGKILL');
    await exited;
  }

  async stop(graceMs = 15_000) {
    if (this.alive) await this.server.stop(graceMs);
  }

  /** What the replica printed last, tokens redacted. */
  log() {
    return redact(this.server?.output() ?? '')
      .trim()
      .split('\n')
      .slice(-20)
      .join('\n');
  }

  /** `leader`, `follower`, or undefined when it does not answer (GET /healthz, whose answer carries the role header). */
  async role(timeoutMs = 1000) {
    try {
      const response = await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
      await response.arrayBuffer();
      return response.headers.get('x-fogline-control-plane-role') ?? undefined;
    } catch {
      return undefined;
    }
  }
}

/**
 * A small admin client for one replica: `api(method, url, body?, headers?)` throws on a non-2xx
 * answer and returns the Response; a plain object body goes as JSON.
 */
export function adminApi(baseUrl, adminToken) {
  const api = async (method, url, body, headers = {}) => {
    const json = body !== undefined && !(body instanceof Buffer) && typeof body !== 'string';
    const response = await fetch(`${baseUrl}${url}`, {
      method,
      headers: {
        authorization: `Bearer ${adminToken}`,
        ...(json ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: json ? JSON.stringify(body) : body,
      signal: AbortSignal.timeout(60_000),
    });
    if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${(await response.text()).slice(0, 500)}`);
    return response;
  };
  const json = async (method, url, body, headers) => (await api(method, url, body, headers)).json();
  return { api, json };
}

/** Bytes a process has written so far (/proc/<pid>/io wchar: sockets, pipes and files), or undefined. */
export function processWrittenBytes(pid) {
  try {
    const match = /^wchar:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/io`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}
