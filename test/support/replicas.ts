/**
 * Control-plane replicas for tests (issue 16): several control planes on one PostgreSQL or MariaDB
 * database. Two kinds:
 *
 * - in process (`startInProcessReplica`): the services and the HTTP app of one replica, as
 *   `fogline server --db … --redis …` wires them, for tests that look inside a replica;
 * - real processes (`ReplicaSet`): `fogline server` child processes, each on its own data dir and
 *   port, that can be killed with SIGKILL and started again on the same address; optionally nginx
 *   in front and `fogline agent` processes. `sharedArgs()` are the flags every process of the
 *   installation needs (database, Redis channel, artifact store, signing key), so that a suite
 *   can start other processes of the same installation beside the replicas with `startProcess`.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { announceChanges } from '../../src/cluster/change-wiring.js';
import { RedisChangeBus } from '../../src/cluster/redis-change-bus.js';
import { resolveOptions } from '../../src/config/options.js';
import { SERVER_OPTIONS } from '../../src/config/server-options.js';
import { bootstrapAdminToken } from '../../src/control-plane/admin-bootstrap.js';
import { buildControlPlaneApp, type ControlPlaneApp } from '../../src/control-plane/app.js';
import { createServices, type Services } from '../../src/control-plane/services.js';
import { migrateToLatest, openStore } from '../../src/store/store.js';
import { type RunningNginx, startNginx } from './nginx.js';
import { type FoglineProcess, freePort, ProcessTracker, requestJson, tempDir } from './processes.js';

/** Calls `check` every 10 ms until it is true; how long that took, in ms. Throws after `limitMs`. */
export async function msUntil(check: () => Promise<boolean>, limitMs: number): Promise<number> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > limitMs) throw new Error(`not within ${limitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return performance.now() - started;
}

// ---- in process ---------------------------------------------------------------------------------

export interface InProcessReplica {
  app: ControlPlaneApp;
  services: Services;
  url: string;
  /** Set on the replica that bootstrapped the admin token. */
  adminToken: string | undefined;
  call(method: string, path: string, token: string, body?: object): Promise<{ status: number; body: any }>;
}

/** A control plane on `db`, as `fogline server --db <db> --redis <redis> --redis-channel <channel>` starts one. */
export async function startInProcessReplica(db: string, redis: string, channel: string): Promise<InProcessReplica> {
  const config = resolveOptions(SERVER_OPTIONS, { dataDir: tempDir('replica'), port: '0', logLevel: 'silent', db }, {});
  const store = openStore(db);
  await migrateToLatest(store);
  const services = createServices(store, config);
  // What --redis wires: the replicas' events over Redis (a channel of this test's own).
  services.changes.connect(new RedisChangeBus(redis, channel));
  announceChanges(services.changes, services);
  const adminToken = await bootstrapAdminToken(services.tokens, config.dataDir);
  const app = await buildControlPlaneApp(services, { bodyLimitBytes: config.bodyLimitBytes, logger: false });
  app.addHook('onClose', async () => {
    await services.runs.stop();
    await services.inference.close();
    await store.close();
    fs.rmSync(config.dataDir, { recursive: true, force: true });
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return {
    app,
    services,
    url,
    adminToken,
    async call(method, path, token, body) {
      const response = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await response.text();
      return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
    },
  };
}

// ---- real processes -----------------------------------------------------------------------------

export interface ReplicaProcess {
  name: string;
  dataDir: string;
  /** host:port, as nginx's upstream names it. */
  address: string;
  url: string;
  /** The process now running (replaced by `start` after a kill). */
  process: FoglineProcess;
}

export interface ReplicaSetOptions {
  /** The database URL (FOGLINE_DB) the replicas share: PostgreSQL or MariaDB. */
  db: string;
  /** Redis (the caller's testRedisUrl(), which the preflight reads) for change events, on a channel of this set's own; none: each replica keeps its events. */
  redis?: string;
  /** `database` shares bundles, datasets and federated updates between replicas (default); `folder` keeps them per data dir. */
  artifactStore?: 'database' | 'folder';
  /** The replicas' --log-level (default warn). */
  logLevel?: string;
  /** More flags for every replica. */
  args?: string[];
}

export interface AgentProcess {
  name: string;
  dataDir: string;
  process: FoglineProcess;
  /** Its inference server. */
  url: string;
}

/**
 * `fogline server` replicas on one database (with Redis when given, a shared ed25519 signing key
 * and, by default, the database artifact store), nginx in front when asked, and agents. Every process
 * started through it is stopped by `stop()`, which also removes the data dirs (not the database:
 * the caller created it and drops it).
 */
export class ReplicaSet {
  readonly processes = new ProcessTracker();
  readonly replicas = new Map<string, ReplicaProcess>();
  readonly agents = new Map<string, AgentProcess>();
  adminToken = '';
  nginx: RunningNginx | undefined;
  /** The Redis channel of this set's replicas: tests sharing one Redis do not hear each other. */
  readonly channel = `fogline-test:${randomBytes(6).toString('hex')}`;
  private readonly keyDir = tempDir('replica-key');
  private readonly signingKeyFile = path.join(this.keyDir, 'signing-key.pem');
  private readonly dirs: string[] = [this.keyDir];

  constructor(private readonly options: ReplicaSetOptions) {
    const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    fs.writeFileSync(this.signingKeyFile, pem, { mode: 0o600 });
  }

  /** The flags every process of this installation needs to share its state: database, Redis channel, artifact store, signing key. */
  sharedArgs(): string[] {
    return [
      ...['--db', this.options.db],
      ...(this.options.redis ? ['--redis', this.options.redis, '--redis-channel', this.channel] : []),
      ...['--artifact-store', this.options.artifactStore ?? 'database'],
      ...['--signing-key-file', this.signingKeyFile],
    ];
  }

  /** Starts the replicas one after the other (the first migrates the empty database, bootstraps the admin token and leads). */
  async startReplicas(names: string[]): Promise<ReplicaProcess[]> {
    const started: ReplicaProcess[] = [];
    for (const name of names) started.push(await this.start(name));
    return started;
  }

  /** Starts replica `name`, or starts it again on its data dir and address after a kill or stop. */
  async start(name: string): Promise<ReplicaProcess> {
    const known = this.replicas.get(name);
    const dataDir = known?.dataDir ?? tempDir(`replica-${name}`);
    if (!known) this.dirs.push(dataDir);
    const port = known ? Number(known.address.split(':')[1]) : await freePort();
    const proc = this.startProcess([
      ...['server', '--data-dir', dataDir, '--port', String(port)],
      ...['--log-level', this.options.logLevel ?? 'warn'],
      ...this.sharedArgs(),
      ...(this.options.args ?? []),
    ]);
    await proc.waitForOutput(/listening on/, 30_000);
    const replica = { name, dataDir, address: `127.0.0.1:${port}`, url: `http://127.0.0.1:${port}`, process: proc };
    this.replicas.set(name, replica);
    const tokenFile = path.join(dataDir, 'admin.token');
    if (!this.adminToken && fs.existsSync(tokenFile)) this.adminToken = fs.readFileSync(tokenFile, 'utf8').trim();
    return replica;
  }

  /** `fogline <args>` as part of this set: stopped with it. */
  startProcess(args: string[]): FoglineProcess {
    return this.processes.start(args);
  }

  replica(name: string): ReplicaProcess {
    const replica = this.replicas.get(name);
    if (!replica) throw new Error(`no replica ${name}`);
    return replica;
  }

  /** SIGKILL, as a crash (no lease release); resolves once the process is gone. */
  async kill(name: string): Promise<void> {
    const { process: proc } = this.replica(name);
    proc.child.kill('SIGKILL');
    await proc.exited;
  }

  /** `leader` or `follower` (the role header of /healthz), or undefined when the replica does not answer. */
  async role(name: string): Promise<string | undefined> {
    try {
      const response = await fetch(`${this.replica(name).url}/healthz`, { signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      return response.headers.get('x-fogline-control-plane-role') ?? undefined;
    } catch {
      return undefined;
    }
  }

  /** Whether the replica's /metrics says it holds the leader lease (fogline_control_plane_leader). */
  async leads(name: string): Promise<boolean> {
    const response = await fetch(`${this.replica(name).url}/metrics`, {
      headers: { authorization: `Bearer ${this.adminToken}` },
      signal: AbortSignal.timeout(5000),
    });
    const match = /^fogline_control_plane_leader (\d)$/m.exec(await response.text());
    if (!match) throw new Error(`no fogline_control_plane_leader in /metrics of ${name}`);
    return match[1] === '1';
  }

  /** The replica that says it leads now; throws unless exactly one does. */
  async leader(): Promise<ReplicaProcess> {
    const names = [...this.replicas.keys()];
    const roles = await Promise.all(names.map((name) => this.role(name)));
    const leaders = names.filter((_, i) => roles[i] === 'leader');
    if (leaders.length !== 1) throw new Error(`expected one leader, roles: ${names.map((n, i) => `${n}=${roles[i]}`).join(', ')}`);
    return this.replica(leaders[0]!);
  }

  /** Resolves with the ms it took until `name` says it leads (polled every 50 ms). */
  leadsWithin(name: string, limitMs: number): Promise<number> {
    return msUntil(async () => {
      const started = performance.now();
      const leading = (await this.role(name)) === 'leader';
      if (!leading) await new Promise((resolve) => setTimeout(resolve, Math.max(0, 50 - (performance.now() - started))));
      return leading;
    }, limitMs);
  }

  /**
   * Debian's nginx (`binary`: the caller's `requireBinary('nginx')`, which the preflight reads) in
   * front of every replica started so far, deploy/nginx as render.sh writes it.
   */
  async startNginx(binary: string): Promise<RunningNginx> {
    this.nginx = await startNginx(
      binary,
      await freePort(),
      [...this.replicas.values()].map((r) => r.address),
    );
    return this.nginx;
  }

  /** An admin call to `base` (a replica's name, or a URL such as nginx's). */
  api<T = any>(base: string, method: string, route: string, body?: unknown) {
    const url = this.replicas.get(base)?.url ?? base;
    return requestJson<T>(`${url}${route}`, { method, token: this.adminToken, body, timeoutMs: 30_000 });
  }

  /** A join token for `maxUses` nodes. */
  async joinToken(base: string, maxUses: number): Promise<string> {
    const made = await this.api<{ token: string }>(base, 'POST', '/api/v1/tokens', { name: `join-${maxUses}`, role: 'join', maxUses });
    if (made.status !== 201) throw new Error(`join token: ${made.status} ${JSON.stringify(made.body)}`);
    return made.body.token;
  }

  /** Starts `fogline agent` against `server` (a URL: nginx's or a replica's) and waits until it serves. */
  async startAgent(name: string, server: string, options: { joinToken: string; labels?: string; args?: string[] }): Promise<AgentProcess> {
    const dataDir = tempDir(`agent-${name}`);
    this.dirs.push(dataDir);
    const proc = this.startProcess([
      ...['agent', '--server', server, '--name', name, '--data-dir', dataDir, '--port', '0', '--log-level', 'warn'],
      ...['--join-token', options.joinToken],
      ...(options.labels ? ['--labels', options.labels] : []),
      ...(options.args ?? []),
    ]);
    const [, url] = await proc.waitForOutput(/serving on (https?:\/\/\S+)/, 30_000);
    const agent = { name, dataDir, process: proc, url: url! };
    this.agents.set(name, agent);
    return agent;
  }

  /** Stops nginx and every process, removes the data dirs. */
  async stop(): Promise<void> {
    await this.nginx?.stop();
    await this.processes.stopAll();
    for (const dir of this.dirs) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Sends V2 infer requests to `url` (an agent's /v2/models/<name>/infer) one after the other, `pauseMs`
 * apart, until stopped; records each answer's version and every failure (a status other than 200, or no answer).
 */
export function inferenceStream(
  url: string,
  request: object,
  pauseMs = 20,
): { stop(): Promise<{ versions: string[]; failures: string[] }> } {
  const versions: string[] = [];
  const failures: string[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const { status, body } = await requestJson<{ model_version?: string }>(url, { method: 'POST', body: request, timeoutMs: 10_000 });
        if (status === 200) versions.push(String(body.model_version));
        else failures.push(`${status}: ${JSON.stringify(body)}`);
      } catch (error) {
        failures.push((error as Error).message);
      }
      // A steady stream, not a flood: the machine running the tests runs the whole cluster too.
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { versions, failures };
    },
  };
}
