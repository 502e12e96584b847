#!/usr/bin/env node
// Fleet benchmark: many simulated agents heartbeating to one real control plane.
// For every dialect x fleet size: start `fogline server` on a temp data dir and a throwaway
// database, enrol N nodes with one join token, run the load generator in separate process(es),
// measure a steady-state window, stop everything and clean up. With --replicas (and --nginx), the
// same for every replica count: that many servers on one database and one Redis, behind nginx,
// with CPU per heartbeat per replica, nginx, PostgreSQL and Redis. See bench/fleet/README.md.
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  groupCpuDelta,
  groupCpuSeconds,
  machineCpuSeconds,
  pidsNamed,
  processContextSwitches,
  processCpuSeconds,
  processRssBytes,
} from './lib/proc-stats.js';
import { startNginx } from './lib/nginx.js';
import { createDatabase, startServer } from './lib/server.js';
import { freePort, makeSigningKey } from '../replicas/lib/replicas.js';
import { fmt, renderTable, round, summarizeLatencies } from './lib/stats.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const WORKER = path.join(HERE, 'load-worker.js');
const DB_PROCESS_NAMES = { sqlite: [], postgres: ['postgres'], mysql: ['mariadbd', 'mysqld'] };
const MiB = 1024 * 1024;

const HELP = `Usage: npm run bench:fleet -- [options]   (or: node bench/fleet/run.js [options])

  --nodes <list>            fleet sizes, comma separated            (default 1000,10000)
  --dialects <list>         sqlite, postgres, mysql                 (default sqlite,postgres)
  --interval <s>            heartbeat interval per node             (default 15)
  --warmup <s>              load before the measured window         (default 15)
  --max-warmup <s>          longer warm-up while heartbeats back up (default 45)
  --duration <s>            measured steady-state window            (default 45)
  --workers <n>             load-generator processes                (default 1)
  --sockets <n>             keep-alive sockets per worker           (default 64)
  --enrol-concurrency <n>   enrolments in flight                    (default 32)
  --timeout <s>             per-heartbeat timeout                   (default 10)
  --goal-nodes <n>          fleet size the goal is about            (default 10000)
  --goal-p99 <ms>           p99 latency goal                        (default 50)
  --pg-url <url>            PostgreSQL server (no database)         (default postgres://postgres@127.0.0.1:5432)
  --mysql-url <url>         MariaDB server (no database)            (default mysql://root@127.0.0.1:3306)
  --out <file>              results JSON                            (default bench/fleet/results/latest.json;
                                                                     with --replicas/--nginx results/replicas.json)
  --profile                 run the server with --cpu-prof; profiles go to --profile-dir
  --profile-dir <dir>       where .cpuprofile files go              (default <tmp>/fogline-fleet-profiles)
  --server-node-args <args> extra node flags for the server, space separated (e.g. "--max-old-space-size=256")
  --replicas <list>         control-plane replica counts, e.g. 1,2: each scenario runs that many servers on
                            one database and one Redis (postgres or mysql)  (default: one server, no Redis)
  --nginx                   the fleet talks to nginx (deploy/nginx) in front of the replica(s)
  --nginx-workers <n>       nginx worker processes                   (default 1)
  --redis <url>             Redis for --replicas                     (default redis://127.0.0.1:6379)
  --idle-seconds <s>        --replicas: CPU of the silent, enrolled fleet measured first (default 5)
  --efficiency-tolerance <%> --replicas: how much more CPU per heartbeat the larger replica count
                            may cost and still count as no loss      (default 5)
  --keep                    keep temp data dirs (for debugging)
  -h, --help                this text
`;

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      nodes: { type: 'string', default: '1000,10000' },
      dialects: { type: 'string', default: 'sqlite,postgres' },
      interval: { type: 'string', default: '15' },
      warmup: { type: 'string', default: '15' },
      'max-warmup': { type: 'string', default: '45' },
      duration: { type: 'string', default: '45' },
      workers: { type: 'string', default: '1' },
      sockets: { type: 'string', default: '64' },
      'enrol-concurrency': { type: 'string', default: '32' },
      timeout: { type: 'string', default: '10' },
      'goal-nodes': { type: 'string', default: '10000' },
      'goal-p99': { type: 'string', default: '50' },
      'pg-url': { type: 'string', default: process.env.FOGLINE_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432' },
      'mysql-url': { type: 'string', default: process.env.FOGLINE_BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306' },
      out: { type: 'string' },
      profile: { type: 'boolean', default: false },
      'profile-dir': { type: 'string', default: path.join(os.tmpdir(), 'fogline-fleet-profiles') },
      'server-node-args': { type: 'string', default: '' },
      replicas: { type: 'string' },
      nginx: { type: 'boolean', default: false },
      'nginx-workers': { type: 'string', default: '1' },
      redis: { type: 'string', default: process.env.FOGLINE_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379' },
      'efficiency-tolerance': { type: 'string', default: '5' },
      'idle-seconds': { type: 'string', default: '5' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const positive = (name, { integer = false } = {}) => {
    const value = Number(values[name]);
    if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
      throw new Error(`--${name} must be a positive ${integer ? 'integer' : 'number'}, not ${values[name]}`);
    }
    return value;
  };
  const nodes = values.nodes.split(',').map((raw) => {
    const value = Number(raw.trim().replace(/_/g, ''));
    if (!Number.isInteger(value) || value < 1 || value > 1_000_000) throw new Error(`--nodes: bad fleet size ${raw}`);
    return value;
  });
  const dialects = values.dialects.split(',').map((raw) => raw.trim());
  for (const dialect of dialects) {
    if (!(dialect in DB_PROCESS_NAMES)) throw new Error(`--dialects: unknown dialect ${dialect} (sqlite, postgres, mysql)`);
  }
  // --replicas 1,2: replica counts; --nginx alone: one replica behind nginx; neither: the classic
  // single server without Redis or nginx (null), so earlier runs stay comparable.
  let replicas = null;
  if (values.replicas !== undefined || values.nginx) {
    replicas = (values.replicas ?? '1').split(',').map((raw) => {
      const value = Number(raw.trim());
      if (!Number.isInteger(value) || value < 1 || value > 16) throw new Error(`--replicas: bad replica count ${raw}`);
      return value;
    });
    if (dialects.includes('sqlite'))
      throw new Error('--replicas/--nginx: replicas share a database server: use --dialects postgres (or mysql)');
    if (!values.nginx && replicas.some((count) => count > 1)) {
      throw new Error('--replicas with more than one replica needs --nginx (the fleet talks to one address)');
    }
    if (values.profile) throw new Error('--profile profiles the single server: leave out --replicas/--nginx');
    const redisHost = new URL(values.redis).hostname;
    if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(redisHost)) throw new Error(`--redis: loopback only, not ${redisHost}`);
  }
  return {
    nodes,
    dialects,
    replicas,
    nginx: values.nginx,
    nginxWorkers: positive('nginx-workers', { integer: true }),
    redisUrl: values.redis,
    idleSeconds: positive('idle-seconds'),
    efficiencyTolerance: (() => {
      const value = Number(values['efficiency-tolerance']);
      if (!Number.isFinite(value) || value < 0)
        throw new Error(`--efficiency-tolerance must be a percentage >= 0, not ${values['efficiency-tolerance']}`);
      return value / 100;
    })(),
    intervalSeconds: positive('interval'),
    warmupSeconds: positive('warmup'),
    maxWarmupSeconds: positive('max-warmup'),
    durationSeconds: positive('duration'),
    workers: positive('workers', { integer: true }),
    sockets: positive('sockets', { integer: true }),
    enrolConcurrency: positive('enrol-concurrency', { integer: true }),
    timeoutSeconds: positive('timeout'),
    goalNodes: positive('goal-nodes', { integer: true }),
    goalP99Ms: positive('goal-p99'),
    pgUrl: values['pg-url'],
    mysqlUrl: values['mysql-url'],
    out: path.resolve(values.out ?? path.join(HERE, 'results', replicas ? 'replicas.json' : 'latest.json')),
    profile: values.profile,
    profileDir: path.resolve(values['profile-dir']),
    serverNodeArgs: values['server-node-args'].split(/\s+/).filter(Boolean),
    keep: values.keep,
  };
}

/** Cleanup actions for the scenario in progress, run in reverse on success, failure or Ctrl-C. */
const cleanups = [];
async function runCleanups() {
  while (cleanups.length > 0) {
    const action = cleanups.pop();
    try {
      await action();
    } catch (error) {
      console.error(`cleanup: ${error.message}`);
    }
  }
}
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error(`\n${signal}: stopping the server and cleaning up...`);
    runCleanups().finally(() => process.exit(130));
  });
}

function log(message) {
  process.stderr.write(`[fleet ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

async function api(url, token, method, urlPath, body) {
  const response = await fetch(`${url}${urlPath}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${urlPath} -> ${response.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

/** Enrols `count` nodes with one join token, `concurrency` at a time. */
async function enrolFleet(server, count, concurrency) {
  const { token } = await api(server.url, server.adminToken, 'POST', '/api/v1/tokens', {
    name: `fleet bench (${count} nodes)`,
    role: 'join',
    maxUses: count,
    expiresInSeconds: 3600,
  });
  const nodes = new Array(count);
  let next = 0;
  const width = String(count).length;
  const startedAt = performance.now();
  let lastReport = startedAt;
  const lane = async () => {
    while (next < count) {
      const index = next++;
      const name = `sim-${String(index).padStart(width, '0')}`;
      const result = await api(server.url, token, 'POST', '/api/v1/nodes/enroll', {
        name,
        role: 'edge',
        labels: { 'fogline.io/bench': 'fleet', zone: `z${index % 8}` },
      });
      nodes[index] = { id: result.nodeId, name, credential: result.credential };
      const now = performance.now();
      if (now - lastReport > 10_000) {
        lastReport = now;
        log(`  enrolled ${index + 1}/${count}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  const seconds = (performance.now() - startedAt) / 1000;
  return { nodes, seconds, perSecond: count / seconds };
}

/** Forks a load worker: `ready` and `result` are promises, `lastTick` the latest backlog report. */
function forkWorker() {
  const child = fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const worker = { child, lastTick: null };
  let resolveReady;
  let rejectReady;
  let resolveResult;
  let rejectResult;
  worker.ready = new Promise((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  worker.result = new Promise((resolve, reject) => {
    resolveResult = resolve;
    rejectResult = reject;
  });
  worker.result.catch(() => {}); // observed later; avoid an unhandled rejection meanwhile
  child.on('message', (message) => {
    if (message.type === 'ready') resolveReady();
    else if (message.type === 'tick') worker.lastTick = message;
    else if (message.type === 'result') resolveResult(message);
    else if (message.type === 'error') {
      const error = new Error(`load worker: ${message.message}`);
      rejectReady(error);
      rejectResult(error);
    }
  });
  child.on('exit', (code) => {
    const error = new Error(`load worker exited with code ${code}`);
    rejectReady(error);
    rejectResult(error);
  });
  return worker;
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function cpuSnapshot(plane, workerPids, dbNames) {
  return {
    at: performance.now(),
    servers: plane.servers.map((server) => processCpuSeconds(server.pid)),
    workers: groupCpuSeconds(workerPids),
    db: groupCpuSeconds(pidsNamed(dbNames)),
    nginx: plane.nginx ? groupCpuSeconds([plane.nginx.pid, ...plane.nginx.workerPids()]) : new Map(),
    redis: plane.replicated ? groupCpuSeconds(pidsNamed(['redis-server'])) : new Map(),
    machine: machineCpuSeconds(),
    ctx: plane.servers.map((server) => processContextSwitches(server.pid)),
  };
}

/** A scenario's label: `postgres` (one server), `postgres 2r+nginx` (two replicas behind nginx). */
function scenarioLabel(dialect, replicas, nginx) {
  return replicas === null || replicas === undefined ? dialect : `${dialect} ${replicas}r${nginx ? '+nginx' : ''}`;
}

/**
 * What the fleet talks to. Classic (replicaCount null): one `fogline server`, as before. Otherwise
 * replicaCount servers on the one database, with Redis (a channel of this run's own), artifacts in
 * the database and one signing key, as deploy/nginx/README.md sets them up; and nginx in front when
 * --nginx. Returns { url, adminToken, servers: [{ label, pid, ... }], nginx, replicated, unexpectedExit }.
 */
async function startPlane(options, { dataDir, database, replicaCount, nodeArgs, tag }) {
  if (replicaCount === null) {
    const server = await startServer({ dataDir, dbUrl: database.url, intervalSeconds: options.intervalSeconds, nodeArgs });
    cleanups.push(() => server.stop());
    server.label = 'server';
    return {
      url: server.url,
      adminToken: server.adminToken,
      servers: [server],
      nginx: null,
      replicated: false,
      unexpectedExit: server.unexpectedExit,
    };
  }
  const signingKeyFile = makeSigningKey(path.join(dataDir, 'signing-key.pem'));
  const extraArgs = [
    '--redis',
    options.redisUrl,
    '--redis-channel',
    `fogline-bench-fleet-${process.pid}-${tag}`,
    '--artifact-store',
    'database',
    '--signing-key-file',
    signingKeyFile,
    // nginx is the only client address the replicas see: believe its X-Forwarded-For.
    ...(options.nginx ? ['--trust-proxy', '127.0.0.1'] : []),
  ];
  const servers = [];
  cleanups.push(() => Promise.all(servers.map((server) => server.stop())));
  // One after the other: the first migrates the empty database and writes the admin token.
  for (let i = 0; i < replicaCount; i++) {
    const label = String.fromCharCode(65 + i);
    const replicaDir = path.join(dataDir, `replica-${label.toLowerCase()}`);
    fs.mkdirSync(replicaDir);
    const server = await startServer({
      dataDir: replicaDir,
      dbUrl: database.url,
      intervalSeconds: options.intervalSeconds,
      extraArgs,
      nodeArgs,
      label: `replica ${label}`,
    });
    server.label = label;
    server.address = new URL(server.url).host;
    servers.push(server);
  }
  const adminToken = servers[0].adminToken;
  if (!adminToken) throw new Error('replica A wrote no admin.token: was the database not empty?');
  let nginx = null;
  if (options.nginx) {
    nginx = await startNginx({
      port: await freePort(),
      replicas: servers.map((server) => server.address),
      workerProcesses: options.nginxWorkers,
    });
    cleanups.push(() => nginx.stop());
  }
  const unexpectedExit = () =>
    [...servers.map((server) => server.unexpectedExit()), nginx?.unexpectedExit()].filter(Boolean).join('; ') || undefined;
  return { url: nginx?.url ?? servers[0].url, adminToken, servers, nginx, replicated: true, unexpectedExit };
}

async function runScenario(options, dialect, nodeCount, replicaCount) {
  const context = {};
  try {
    return await runScenarioSteps(options, dialect, nodeCount, replicaCount, context);
  } catch (error) {
    // "fetch failed" and friends usually mean the server went away: say so, with its last words.
    const exit = context.plane?.unexpectedExit();
    throw exit ? new Error(exit, { cause: error }) : error;
  }
}

async function runScenarioSteps(options, dialect, nodeCount, replicaCount, context) {
  const tag = replicaCount === null ? `${dialect}-${nodeCount}` : `${dialect}-${replicaCount}r-${nodeCount}`;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `fogline-fleet-${tag}-`));
  if (!options.keep) cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const database = await createDatabase(dialect, {
    dataDir,
    pgUrl: options.pgUrl,
    mysqlUrl: options.mysqlUrl,
    tag: replicaCount === null ? `${process.pid}_${nodeCount}` : `${process.pid}_${replicaCount}r_${nodeCount}`,
  });
  cleanups.push(() => database.drop());

  const nodeArgs = [...options.serverNodeArgs];
  let profileFile = null;
  if (options.profile) {
    fs.mkdirSync(options.profileDir, { recursive: true });
    profileFile = path.join(options.profileDir, `server-${tag}.cpuprofile`);
    fs.rmSync(profileFile, { force: true });
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${options.profileDir}`, `--cpu-prof-name=server-${tag}.cpuprofile`);
  }
  const what = replicaCount === null ? 'the control plane' : `${replicaCount} replica(s)${options.nginx ? ' behind nginx' : ''}`;
  log(`${tag}: starting ${what} (${dialect}${database.name ? `, database ${database.name}` : ''})`);
  const plane = await startPlane(options, { dataDir, database, replicaCount, nodeArgs, tag });
  context.plane = plane;
  log(
    `${tag}: ${plane.servers.map((server) => `${server.label} pid ${server.pid} at ${server.url}`).join('; ')}` +
      `${plane.nginx ? `; nginx pid ${plane.nginx.pid} at ${plane.nginx.url}` : ''}; enrolling ${nodeCount} nodes (${options.enrolConcurrency} in flight)`,
  );

  const enrolment = await enrolFleet(plane, nodeCount, options.enrolConcurrency);
  log(`${tag}: enrolled ${nodeCount} nodes in ${enrolment.seconds.toFixed(1)} s (${enrolment.perSecond.toFixed(0)}/s)`);
  const rssAfterEnrol = plane.servers.map((server) => processRssBytes(server.pid));
  // Replicas: what they cost with the fleet enrolled but silent (leases, sweeps, timers), so the
  // CPU per heartbeat can be split into a fixed part and a part that grows with the load.
  let idle = null;
  if (plane.replicated) {
    await sleep(1000);
    const idleBefore = cpuSnapshot(plane, [], DB_PROCESS_NAMES[dialect]);
    await sleep(options.idleSeconds * 1000);
    const idleAfter = cpuSnapshot(plane, [], DB_PROCESS_NAMES[dialect]);
    const seconds = (idleAfter.at - idleBefore.at) / 1000;
    const percent = (cpu) => round((cpu / seconds) * 100, 1);
    const replicasCpu = plane.servers.map((_, i) => idleAfter.servers[i] - idleBefore.servers[i]);
    idle = {
      seconds: round(seconds, 1),
      replicaCpuPercent: replicasCpu.map(percent),
      replicasCpuSecondsPerSecond: replicasCpu.reduce((a, b) => a + b, 0) / seconds,
      databaseCpuPercent: percent(groupCpuDelta(idleBefore.db, idleAfter.db)),
      nginxCpuPercent: plane.nginx ? percent(groupCpuDelta(idleBefore.nginx, idleAfter.nginx)) : null,
    };
    log(
      `${tag}: idle (no heartbeats) ${idle.seconds} s: replicas ${idle.replicaCpuPercent.join(' + ')} % CPU, database ${idle.databaseCpuPercent} %`,
    );
  }

  // Split the fleet across workers; phases stay evenly spread over the interval fleet-wide.
  const intervalMs = options.intervalSeconds * 1000;
  const workerCount = Math.min(options.workers, nodeCount);
  const shares = Array.from({ length: workerCount }, () => []);
  enrolment.nodes.forEach((node, index) => {
    shares[index % workerCount].push({ ...node, phaseMs: (index * intervalMs) / nodeCount });
  });
  const workers = shares.map(() => forkWorker());
  cleanups.push(async () => {
    for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
  });
  const warmupMs = options.warmupSeconds * 1000;
  const maxWarmupMs = Math.max(warmupMs, options.maxWarmupSeconds * 1000);
  const durationMs = options.durationSeconds * 1000;
  const startEpochMs = Date.now() + 500 + 50 * workerCount;
  workers.forEach((worker, i) => {
    worker.child.send({
      type: 'init',
      nodes: shares[i],
      url: plane.url,
      intervalMs,
      sockets: options.sockets,
      timeoutMs: options.timeoutSeconds * 1000,
      startEpochMs,
      maxRunMs: maxWarmupMs + durationMs + 5_000,
    });
  });
  await withTimeout(Promise.all(workers.map((worker) => worker.ready)), 30_000, 'load workers starting');
  log(
    `${tag}: load running: ${(nodeCount / options.intervalSeconds).toFixed(1)} heartbeats/s target; ` +
      `warm-up ${options.warmupSeconds} s (up to ${maxWarmupMs / 1000} s until no backlog), then ${options.durationSeconds} s measured`,
  );

  // Warm-up: at least --warmup, then until the generator has no backlog (fewer heartbeats in
  // flight than keep-alive sockets at two successive ticks), at most --max-warmup.
  const backlogLimit = options.sockets * workerCount;
  let calmTicks = 0;
  let peakBacklog = 0;
  let settled = false;
  await sleep(Math.max(0, startEpochMs - Date.now()));
  while (true) {
    await sleep(1000);
    const ticks = workers.map((worker) => worker.lastTick);
    const backlog = ticks.every(Boolean) ? ticks.reduce((total, tick) => total + tick.inFlight, 0) : Number.POSITIVE_INFINITY;
    if (Number.isFinite(backlog)) peakBacklog = Math.max(peakBacklog, backlog);
    calmTicks = backlog < backlogLimit ? calmTicks + 1 : 0;
    const elapsed = Date.now() - startEpochMs;
    if (elapsed >= warmupMs && calmTicks >= 2) {
      settled = true;
      break;
    }
    if (elapsed >= maxWarmupMs) break;
  }
  const windowStartEpoch = Date.now() + 300;
  const windowEndEpoch = windowStartEpoch + durationMs;
  const warmupActualSeconds = (windowStartEpoch - startEpochMs) / 1000;
  for (const worker of workers) worker.child.send({ type: 'window', startEpochMs: windowStartEpoch, endEpochMs: windowEndEpoch });
  if (!settled) log(`${tag}: still a backlog of heartbeats after ${warmupActualSeconds.toFixed(0)} s: measuring anyway`);
  else if (warmupActualSeconds > options.warmupSeconds + 3)
    log(`${tag}: backlog cleared after ${warmupActualSeconds.toFixed(0)} s of warm-up`);

  // Sample the server (and database / load generator) over exactly the measured window.
  await sleep(Math.max(0, windowStartEpoch - Date.now()));
  const dbNames = DB_PROCESS_NAMES[dialect];
  const workerPids = workers.map((worker) => worker.child.pid);
  const before = cpuSnapshot(plane, workerPids, dbNames);
  // Once a second: server RSS, and CPU% of the server(s), load generator and the whole box in that
  // second, so latency spikes can be matched against what else the machine was doing.
  const rssSamples = plane.servers.map(() => []);
  const cpuSeconds = [];
  let previous = { ...before, server: before.servers.reduce((a, b) => a + (b ?? 0), 0) };
  const sample = () => {
    plane.servers.forEach((server, i) => {
      const rss = processRssBytes(server.pid);
      if (rss !== undefined) rssSamples[i].push(rss);
    });
    const serverSeconds = plane.servers.map((server) => processCpuSeconds(server.pid));
    const now = {
      at: performance.now(),
      server: serverSeconds.includes(undefined) ? previous.server : serverSeconds.reduce((a, b) => a + b, 0),
      workers: groupCpuSeconds(workerPids),
      machine: machineCpuSeconds(),
    };
    const seconds = (now.at - previous.at) / 1000;
    if (seconds > 0.2) {
      cpuSeconds.push({
        server: ((now.server - previous.server) / seconds) * 100,
        generator: (groupCpuDelta(previous.workers, now.workers) / seconds) * 100,
        box: ((now.machine.busy - previous.machine.busy) / seconds) * 100,
      });
      previous = now;
    }
  };
  sample();
  const sampler = setInterval(sample, 1000);
  await sleep(Math.max(0, windowEndEpoch - Date.now()));
  clearInterval(sampler);
  sample();
  const after = cpuSnapshot(plane, workerPids, dbNames);
  const wallSeconds = (after.at - before.at) / 1000;

  const results = await withTimeout(
    Promise.all(workers.map((worker) => worker.result)),
    options.timeoutSeconds * 1000 + 30_000,
    'load workers finishing',
  );
  const latencies = results.flatMap((result) => result.latencies);
  const serviceLatencies = results.flatMap((result) => result.serviceLatencies);
  const offsets = results.flatMap((result) => result.scheduledOffsets);
  const timeline = buildTimeline(latencies, offsets, cpuSeconds, options.durationSeconds);
  const latency = summarizeLatencies(latencies);
  const service = summarizeLatencies(serviceLatencies);
  const sum = (key) => results.reduce((total, result) => total + result[key], 0);
  const errorsByKind = {};
  for (const result of results) {
    for (const [kind, count] of Object.entries(result.errors.byKind)) errorsByKind[kind] = (errorsByKind[kind] ?? 0) + count;
  }
  const unfinished = sum('unfinished');
  if (unfinished > 0) errorsByKind.unfinished = unfinished;
  const errorsInWindow = results.reduce((total, result) => total + result.errors.inWindow, 0);
  const okByUpstream = {};
  for (const result of results) {
    for (const [upstream, count] of Object.entries(result.okInWindowByUpstream ?? {}))
      okByUpstream[upstream] = (okByUpstream[upstream] ?? 0) + count;
  }

  const unexpectedExit = plane.unexpectedExit();
  if (unexpectedExit) throw new Error(unexpectedExit);

  // Stop the server(s) now (a CPU profile is written on exit), then clean up the rest.
  const stopRequestedEpoch = Date.now();
  const exits = await Promise.all(plane.servers.map((server) => server.stop()));
  const exit = exits[0];
  if (profileFile) {
    // Where the measured window lies, counted back from the end of the profile (~ process exit).
    const stopEpoch = Date.now();
    const exitLagMs = (stopEpoch - stopRequestedEpoch) / 2;
    fs.writeFileSync(
      `${profileFile}.window.json`,
      `${JSON.stringify({
        windowStartBeforeEndMs: stopEpoch - exitLagMs - windowStartEpoch,
        windowEndBeforeEndMs: stopEpoch - exitLagMs - windowEndEpoch,
      })}\n`,
    );
  }
  await runCleanups();

  const targetPerSecond = nodeCount / options.intervalSeconds;
  const achievedPerSecond = sum('okInWindow') / options.durationSeconds;
  const machineBusy = after.machine.busy - before.machine.busy;
  const machineTotal = after.machine.total - before.machine.total;
  const replicaCpu = plane.servers.map((_, i) => (after.servers[i] ?? Number.NaN) - (before.servers[i] ?? Number.NaN));
  const serverCpu = replicaCpu.reduce((a, b) => a + b, 0);
  const generatorCpu = groupCpuDelta(before.workers, after.workers);
  const dbCpu = groupCpuDelta(before.db, after.db);
  const nginxCpu = groupCpuDelta(before.nginx, after.nginx);
  const redisCpu = groupCpuDelta(before.redis, after.redis);
  const okInWindow = Math.max(1, sum('okInWindow'));
  const msPerHeartbeat = (cpuSeconds, heartbeats = okInWindow) => round((cpuSeconds * 1000) / Math.max(1, heartbeats), 3);
  const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;
  const ctxDelta = (key) => plane.servers.reduce((total, _, i) => total + (after.ctx[i][key] - before.ctx[i][key]), 0);
  const roundAll = (summary) => Object.fromEntries(Object.entries(summary).map(([k, v]) => [k, k === 'count' ? v : round(v, 2)]));
  return {
    dialect,
    nodes: nodeCount,
    // null: one server, no Redis, no nginx (the classic run); otherwise servers on one database and Redis.
    replicas: replicaCount,
    nginx: replicaCount === null ? false : options.nginx,
    intervalSeconds: options.intervalSeconds,
    warmupSeconds: round(warmupActualSeconds, 1),
    warmupSettled: settled,
    warmupPeakBacklog: peakBacklog,
    durationSeconds: options.durationSeconds,
    workers: workerCount,
    socketsPerWorker: options.sockets,
    enrolment: { seconds: round(enrolment.seconds), perSecond: round(enrolment.perSecond, 1) },
    heartbeats: {
      targetPerSecond: round(targetPerSecond),
      achievedPerSecond: round(achievedPerSecond),
      achievedRatio: round(achievedPerSecond / targetPerSecond, 4),
      scheduledInWindow: sum('scheduledInWindow'),
      measured: latency.count,
      okInWindow: sum('okInWindow'),
      sentTotal: sum('sent'),
      errorsInWindow,
      errorsTotal: Object.values(errorsByKind).reduce((a, b) => a + b, 0),
      errorsByKind,
      maxInFlightInWindow: Math.max(...results.map((result) => result.maxInFlightInWindow)),
      maxInFlight: Math.max(...results.map((result) => result.maxInFlight)),
      generatorMaxLagMs: round(Math.max(...results.map((result) => result.maxLagMs))),
    },
    // Due time -> response end: what an agent would see (includes any wait for a pooled socket).
    latencyMs: roundAll(latency),
    // request() call -> response end: the same heartbeats without the generator's own lag.
    serviceLatencyMs: roundAll(service),
    // The control plane; with replicas, all of them together (RSS: mean of the replicas' averages, highest peak).
    server: {
      cpuPercent: round((serverCpu / wallSeconds) * 100, 1),
      cpuMsPerHeartbeat: msPerHeartbeat(serverCpu),
      rssAvgMiB: round(mean(rssSamples.map((samples) => mean(samples))) / MiB, 1),
      rssPeakMiB: round(Math.max(...rssSamples.flat()) / MiB, 1),
      rssAfterEnrolMiB: round(mean(rssAfterEnrol.map((rss) => rss ?? Number.NaN)) / MiB, 1),
      // Context switches per second: involuntary ones mean the server was runnable but preempted.
      voluntaryCtxSwitchesPerSecond: round(ctxDelta('voluntary') / wallSeconds, 0),
      involuntaryCtxSwitchesPerSecond: round(ctxDelta('involuntary') / wallSeconds, 0),
      exit,
    },
    // Each replica: its CPU, the heartbeats nginx sent it (X-Fogline-Upstream) and its CPU per heartbeat it answered.
    replicaDetail:
      replicaCount === null
        ? null
        : plane.servers.map((server, i) => {
            const answered = plane.nginx ? (okByUpstream[server.address] ?? 0) : sum('okInWindow');
            return {
              replica: server.label,
              cpuPercent: round((replicaCpu[i] / wallSeconds) * 100, 1),
              heartbeatsAnswered: answered,
              heartbeatShare: round(answered / okInWindow, 3),
              cpuMsPerHeartbeat: msPerHeartbeat(replicaCpu[i], answered),
              rssAvgMiB: round(mean(rssSamples[i]) / MiB, 1),
              rssPeakMiB: round(Math.max(...rssSamples[i]) / MiB, 1),
              exit: exits[i],
            };
          }),
    // --replicas: CPU with the fleet enrolled and silent; marginal = CPU per heartbeat above that.
    idle: idle && {
      seconds: idle.seconds,
      replicaCpuPercent: idle.replicaCpuPercent,
      databaseCpuPercent: idle.databaseCpuPercent,
      nginxCpuPercent: idle.nginxCpuPercent,
    },
    replicasMarginalCpuMsPerHeartbeat: idle ? msPerHeartbeat(serverCpu - idle.replicasCpuSecondsPerSecond * wallSeconds) : null,
    nginxCpuPercent: plane.nginx ? round((nginxCpu / wallSeconds) * 100, 1) : null,
    nginxCpuMsPerHeartbeat: plane.nginx ? msPerHeartbeat(nginxCpu) : null,
    redisCpuPercent: plane.replicated ? round((redisCpu / wallSeconds) * 100, 1) : null,
    redisCpuMsPerHeartbeat: plane.replicated ? msPerHeartbeat(redisCpu) : null,
    databaseCpuPercent: dbNames.length ? round((dbCpu / wallSeconds) * 100, 1) : null,
    databaseCpuMsPerHeartbeat: dbNames.length ? msPerHeartbeat(dbCpu) : null,
    // Everything that serves the fleet: the control plane(s), the database, nginx and Redis.
    serverSideCpuMsPerHeartbeat: msPerHeartbeat(serverCpu + dbCpu + nginxCpu + redisCpu),
    loadGeneratorCpuPercent: round((generatorCpu / wallSeconds) * 100, 1),
    loadGeneratorCpuMsPerHeartbeat: msPerHeartbeat(generatorCpu),
    machine: {
      cpus: os.cpus().length,
      busyPercentOfAllCores: round((machineBusy / machineTotal) * 100, 1),
      // Everything else on the box (other users' builds and tests...), percent of one core.
      otherCpuPercent: round(((machineBusy - serverCpu - generatorCpu - dbCpu - nginxCpu - redisCpu) / wallSeconds) * 100, 1),
    },
    profile: profileFile,
    // One entry per second of the window: heartbeats due, their p99/max latency (ms), and CPU%
    // (of one core) of the server, the load generator and the whole box in that second.
    timeline,
  };
}

function buildTimeline(latencies, offsets, cpuSeconds, durationSeconds) {
  const buckets = Array.from({ length: Math.ceil(durationSeconds) }, () => []);
  offsets.forEach((offset, i) => {
    const bucket = buckets[Math.min(buckets.length - 1, Math.max(0, Math.floor(offset / 1000)))];
    bucket.push(latencies[i]);
  });
  return buckets.map((values, second) => {
    const summary = summarizeLatencies(values);
    const cpu = cpuSeconds[second];
    return {
      s: second,
      n: values.length,
      p99: round(summary.p99, 1),
      max: round(summary.max, 1),
      srvCpu: cpu ? round(cpu.server, 0) : null,
      genCpu: cpu ? round(cpu.generator, 0) : null,
      boxCpu: cpu ? round(cpu.box, 0) : null,
    };
  });
}

/** Pretty JSON, but each timeline second and each array of numbers on one line: keeps the file small. */
function compactJson(report) {
  const columns = ['s', 'n', 'p99', 'max', 'srvCpu', 'genCpu', 'boxCpu'];
  const copy = {
    ...report,
    scenarios: report.scenarios.map((scenario) =>
      scenario.timeline ? { ...scenario, timeline: { columns, rows: scenario.timeline.map((t) => columns.map((c) => t[c])) } } : scenario,
    ),
  };
  return JSON.stringify(copy, null, 2).replace(
    /\[\s*((?:-?[\d.e+]+|null|"[\w]+")(?:,\s*(?:-?[\d.e+]+|null|"[\w]+"))*)\s*\]/g,
    (_, inner) => `[${inner.replace(/\s+/g, ' ')}]`,
  );
}

function goalMet(result, options) {
  return (
    result.latencyMs.p99 !== null &&
    result.latencyMs.p99 < options.goalP99Ms &&
    result.heartbeats.achievedRatio >= 0.99 &&
    result.heartbeats.errorsInWindow === 0
  );
}

/** A run that meets the latency goal: p99 under it, ≥ 99 % of the target answered, no errors. */
function underGoal(result, options) {
  return !result.failed && goalMet(result, options);
}

/**
 * --replicas: per dialect, the most heartbeats/s each replica count answered within the p99 goal,
 * and the CPU ms per heartbeat of each larger replica count over the first (normally 1) at every
 * fleet size both ran: the replicas together, and the whole server side (replicas, database, nginx,
 * Redis). The efficiency goal (no loss from more replicas) is judged on the replicas' ratio at the
 * fleet sizes where both runs met the p99 goal (a saturated run's CPU per heartbeat measures queueing).
 */
function replicaScaling(results, options) {
  const [base, ...more] = options.replicas;
  return Object.fromEntries(
    options.dialects.map((dialect) => {
      const mine = results.filter((r) => r.dialect === dialect && !r.failed);
      const perReplicas = options.replicas.map((replicas) => {
        const runs = mine.filter((r) => r.replicas === replicas);
        const best = runs
          .filter((r) => underGoal(r, options))
          .sort((a, b) => b.heartbeats.achievedPerSecond - a.heartbeats.achievedPerSecond)[0];
        return {
          replicas,
          heartbeatsPerSecondUnderP99Goal: best
            ? { nodes: best.nodes, achievedPerSecond: best.heartbeats.achievedPerSecond, p99Ms: best.latencyMs.p99 }
            : null,
        };
      });
      const comparisons = [];
      for (const replicas of more) {
        for (const nodes of options.nodes) {
          const one = mine.find((r) => r.replicas === base && r.nodes === nodes);
          const other = mine.find((r) => r.replicas === replicas && r.nodes === nodes);
          if (!one || !other) continue;
          const ratio = (a, b) => (a > 0 && b > 0 ? round(b / a, 3) : null);
          comparisons.push({
            nodes,
            baseReplicas: base,
            replicas,
            replicasCpuMsPerHeartbeat: [one.server.cpuMsPerHeartbeat, other.server.cpuMsPerHeartbeat],
            replicasRatio: ratio(one.server.cpuMsPerHeartbeat, other.server.cpuMsPerHeartbeat),
            serverSideCpuMsPerHeartbeat: [one.serverSideCpuMsPerHeartbeat, other.serverSideCpuMsPerHeartbeat],
            serverSideRatio: ratio(one.serverSideCpuMsPerHeartbeat, other.serverSideCpuMsPerHeartbeat),
            bothUnderP99Goal: underGoal(one, options) && underGoal(other, options),
          });
        }
      }
      const judged = comparisons.filter((c) => c.bothUnderP99Goal && c.replicasRatio !== null);
      return [
        dialect,
        {
          perReplicas,
          comparisons,
          efficiencyGoal: {
            tolerance: options.efficiencyTolerance,
            judgedAtNodes: judged.map((c) => c.nodes),
            met: judged.length ? judged.every((c) => c.replicasRatio <= 1 + options.efficiencyTolerance) : null,
          },
        },
      ];
    }),
  );
}

function replicaReport(results, options) {
  const scaling = replicaScaling(results, options);
  const lines = [];
  const perCore = (ms) => (ms > 0 ? fmt(1000 / ms, 0) : '-');
  const p99Goal = options.goalP99Ms;
  for (const dialect of options.dialects) {
    const runs = results.filter((r) => r.dialect === dialect && !r.failed && r.replicas !== null);
    if (runs.length === 0) continue;
    const header = [
      'replicas',
      'nodes',
      'achieved/s',
      'p99 ms',
      'errors',
      'each replica ms/hb (share)',
      'replicas',
      'idle CPU%',
      'marginal',
      'nginx',
      dialect === 'mysql' ? 'mariadb' : dialect,
      'redis',
      'server side',
      'gen',
      'hb/s/core repl',
      'hb/s/core all',
    ];
    const rows = runs.map((r) => [
      scenarioLabel('', r.replicas, r.nginx).trim(),
      String(r.nodes),
      fmt(r.heartbeats.achievedPerSecond, 1),
      `${fmt(r.latencyMs.p99, 2)}${underGoal(r, options) ? '' : '!'}`,
      String(r.heartbeats.errorsInWindow),
      r.replicaDetail.map((d) => `${d.replica} ${fmt(d.cpuMsPerHeartbeat, 3)} (${fmt(d.heartbeatShare * 100, 0)}%)`).join(', '),
      fmt(r.server.cpuMsPerHeartbeat, 3),
      r.idle ? r.idle.replicaCpuPercent.map((p) => fmt(p, 1)).join('+') : '-',
      fmt(r.replicasMarginalCpuMsPerHeartbeat, 3),
      fmt(r.nginxCpuMsPerHeartbeat, 3),
      fmt(r.databaseCpuMsPerHeartbeat, 3),
      fmt(r.redisCpuMsPerHeartbeat, 3),
      fmt(r.serverSideCpuMsPerHeartbeat, 3),
      fmt(r.loadGeneratorCpuMsPerHeartbeat, 3),
      perCore(r.server.cpuMsPerHeartbeat),
      perCore(r.serverSideCpuMsPerHeartbeat),
    ]);
    lines.push(
      `Replica scaling, ${dialect}: CPU ms per heartbeat answered in the window (share: of the heartbeats, by X-Fogline-Upstream)`,
      renderTable(header, rows, (i) => i > 0 && i !== 5),
      'idle CPU%: each replica with the fleet enrolled but silent; marginal: replicas ms/hb above that idle cost.',
      `server side = replicas + ${dialect === 'mysql' ? 'mariadb' : dialect} + nginx + redis; hb/s/core = 1000 / ms per heartbeat: the heartbeats/s one core ` +
        `would serve (x ${options.intervalSeconds} s = nodes per core). ! = p99 not under ${p99Goal} ms (or errors / < 99 % answered).`,
    );
    const { perReplicas, comparisons, efficiencyGoal } = scaling[dialect];
    lines.push(
      `Heartbeats/s at p99 < ${p99Goal} ms (most answered among runs that met it): ` +
        perReplicas
          .map((p) => {
            const best = p.heartbeatsPerSecondUnderP99Goal;
            return `${p.replicas} replica(s): ${best ? `${fmt(best.achievedPerSecond, 1)} (${best.nodes} nodes, p99 ${fmt(best.p99Ms, 2)} ms)` : 'none'}`;
          })
          .join('; '),
    );
    if (comparisons.length) {
      const cmpHeader = ['nodes', 'replicas', 'repl ms/hb', 'ratio', 'server side ms/hb', 'ratio', `both p99 < ${p99Goal} ms`];
      const cmpRows = comparisons.map((c) => [
        String(c.nodes),
        `${c.replicas} / ${c.baseReplicas}`,
        `${fmt(c.replicasCpuMsPerHeartbeat[1], 3)} / ${fmt(c.replicasCpuMsPerHeartbeat[0], 3)}`,
        fmt(c.replicasRatio, 3),
        `${fmt(c.serverSideCpuMsPerHeartbeat[1], 3)} / ${fmt(c.serverSideCpuMsPerHeartbeat[0], 3)}`,
        fmt(c.serverSideRatio, 3),
        c.bothUnderP99Goal ? 'yes' : 'no',
      ]);
      lines.push(
        `Per-core efficiency, CPU ms per heartbeat (more replicas / ${comparisons[0].baseReplicas}):`,
        renderTable(cmpHeader, cmpRows),
      );
      const judged = comparisons.filter((c) => efficiencyGoal.judgedAtNodes.includes(c.nodes));
      const goal = `no loss in per-core efficiency from more replicas: replicas' CPU ms per heartbeat ratio <= ${fmt(1 + efficiencyGoal.tolerance, 2)}`;
      lines.push(
        efficiencyGoal.met === null
          ? `Goal (${goal}) for ${dialect}: not evaluated — no fleet size where both replica counts met p99 < ${p99Goal} ms`
          : `Goal (${goal}) for ${dialect}: ${efficiencyGoal.met ? 'MET' : 'NOT MET'} — ` +
              judged.map((c) => `${fmt(c.replicasRatio, 3)} at ${c.nodes} nodes (server side ${fmt(c.serverSideRatio, 3)})`).join(', '),
      );
    }
    lines.push('');
  }
  return lines;
}

function printReport(results, options) {
  const header = [
    'dialect',
    'nodes',
    'target/s',
    'achieved/s',
    'p50 ms',
    'p90 ms',
    'p99 ms',
    'max ms',
    'errors',
    'srv CPU%',
    'srv RSS avg/peak MiB',
    'db CPU%',
    'gen CPU%',
    'other CPU%',
    'enrol/s',
    'warm-up s',
  ];
  const rows = results.map((r) =>
    r.failed
      ? [scenarioLabel(r.dialect, r.replicas, r.nginx), String(r.nodes), 'FAILED', '(below)', ...Array(header.length - 4).fill('')]
      : [
          scenarioLabel(r.dialect, r.replicas, r.nginx),
          String(r.nodes),
          fmt(r.heartbeats.targetPerSecond, 1),
          fmt(r.heartbeats.achievedPerSecond, 1),
          fmt(r.latencyMs.p50, 2),
          fmt(r.latencyMs.p90, 2),
          fmt(r.latencyMs.p99, 2),
          fmt(r.latencyMs.max, 1),
          String(r.heartbeats.errorsInWindow),
          fmt(r.server.cpuPercent, 1),
          `${fmt(r.server.rssAvgMiB, 0)}/${fmt(r.server.rssPeakMiB, 0)}`,
          fmt(r.databaseCpuPercent, 1),
          fmt(r.loadGeneratorCpuPercent, 1),
          fmt(r.machine.otherCpuPercent, 1),
          fmt(r.enrolment.perSecond, 0),
          `${fmt(r.warmupSeconds, 0)}${r.warmupSettled ? '' : '*'}`,
        ],
  );
  const cpus = os.cpus().length;
  const lines = [
    '',
    `Fleet benchmark: heartbeat every ${options.intervalSeconds} s per node, warm-up ${options.warmupSeconds}-${options.maxWarmupSeconds} s ` +
      '(until no backlog), ' +
      `${options.durationSeconds} s measured; ${options.workers} load worker(s) x ${options.sockets} keep-alive sockets; ` +
      `${cpus} CPUs (${os.cpus()[0]?.model?.trim() ?? 'unknown'}), Node ${process.version}`,
    '',
    renderTable(header, rows, (i) => i > 1),
    '',
    'Latency: due time -> response end, for heartbeats due in the window. errors: non-200/timeouts in the window.',
    'CPU% = percent of one core over the window (srv: control plane; db: all postgres/mariadbd processes;',
    `gen: load generator; other: everything else on this ${cpus}-core box). enrol/s: enrolments/s before the load.`,
    'warm-up s: load before the window; * = heartbeats were still backing up when the window began.',
  ];
  if (options.replicas) {
    lines.push(
      `With --replicas: ${options.replicas.join(', ')} replica(s) (Nr) on one database and Redis${options.nginx ? ', behind nginx' : ''}; ` +
        'srv = all replicas together, RSS = per replica (mean of averages / highest peak).',
    );
  }
  for (const r of results) if (r.failed) lines.push(`FAILED ${scenarioLabel(r.dialect, r.replicas, r.nginx)} ${r.nodes}: ${r.failed}`);
  lines.push('', 'Slowest seconds of each window (p99 ms of heartbeats due that second; CPU% srv/gen/box in that second):');
  for (const r of results) {
    if (r.failed) continue;
    const worst = [...r.timeline].sort((a, b) => (b.p99 ?? 0) - (a.p99 ?? 0)).slice(0, 4);
    const calm = r.timeline.filter((t) => t.boxCpu !== null && t.boxCpu < 100);
    const calmP99 = calm.length ? Math.max(...calm.map((t) => t.p99 ?? 0)) : null;
    lines.push(
      `  ${`${scenarioLabel(r.dialect, r.replicas, r.nginx)} ${r.nodes}`.padEnd(options.replicas ? 26 : 15)} ` +
        worst.map((t) => `t=${t.s}s ${fmt(t.p99, 0)}ms (${t.srvCpu}/${t.genCpu}/${t.boxCpu})`).join(', ') +
        (calmP99 !== null ? `; worst p99 in seconds with box CPU < 100%: ${fmt(calmP99, 1)} ms (${calm.length} s)` : ''),
    );
  }
  lines.push('');
  if (options.replicas) lines.push(...replicaReport(results, options), '');
  for (const dialect of options.dialects) {
    const result = results.find(
      (r) => r.dialect === dialect && r.nodes === options.goalNodes && !r.failed && r.replicas === (options.replicas?.[0] ?? null),
    );
    const goal =
      `${options.goalNodes} nodes @ ${options.intervalSeconds} s, p99 < ${options.goalP99Ms} ms` +
      (options.replicas ? `, ${scenarioLabel('', options.replicas[0], options.nginx).trim()}` : '');
    if (options.intervalSeconds !== 15) {
      lines.push(`Goal (${goal}) for ${dialect}: not evaluated — the goal is about a 15 s interval`);
    } else if (!result) {
      lines.push(`Goal (${goal}) for ${dialect}: not evaluated — no ${options.goalNodes}-node run`);
    } else {
      const met = goalMet(result, options);
      lines.push(
        `Goal (${goal}) for ${dialect}: ${met ? 'MET' : 'NOT MET'} — p99 ${fmt(result.latencyMs.p99, 2)} ms, ` +
          `${fmt(result.heartbeats.achievedPerSecond, 1)}/${fmt(result.heartbeats.targetPerSecond, 1)} heartbeats/s, ` +
          `${result.heartbeats.errorsInWindow} errors`,
      );
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main() {
  const options = parseOptions(process.argv.slice(2));
  if (!fs.existsSync(path.join(HERE, '..', '..', 'dist', 'cli', 'main.js'))) {
    throw new Error('dist/ is missing: run `npm run build` first');
  }
  const startedAt = new Date();
  const results = [];
  for (const dialect of options.dialects) {
    for (const replicaCount of options.replicas ?? [null]) {
      for (const nodeCount of options.nodes) {
        try {
          results.push(await runScenario(options, dialect, nodeCount, replicaCount));
        } catch (error) {
          if (interrupted) return; // the signal handler cleans up and exits
          log(`${scenarioLabel(dialect, replicaCount, options.nginx)} ${nodeCount} failed: ${error.stack ?? error}`);
          await runCleanups();
          results.push({
            dialect,
            nodes: nodeCount,
            replicas: replicaCount,
            nginx: replicaCount !== null && options.nginx,
            failed: String(error.message ?? error).split('\n')[0],
          });
        }
        if (interrupted) return;
      }
    }
  }
  printReport(results, options);
  const report = {
    benchmark: 'fleet',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model?.trim() ?? null,
      memoryGiB: round(os.totalmem() / 1024 ** 3, 1),
      node: process.version,
    },
    options: {
      nodes: options.nodes,
      dialects: options.dialects,
      intervalSeconds: options.intervalSeconds,
      warmupSeconds: options.warmupSeconds,
      maxWarmupSeconds: options.maxWarmupSeconds,
      durationSeconds: options.durationSeconds,
      workers: options.workers,
      sockets: options.sockets,
      enrolConcurrency: options.enrolConcurrency,
      timeoutSeconds: options.timeoutSeconds,
      replicas: options.replicas,
      nginx: options.nginx,
      nginxWorkers: options.replicas ? options.nginxWorkers : undefined,
    },
    ...(options.replicas ? { replicaScaling: replicaScaling(results, options) } : {}),
    goal: {
      nodes: options.goalNodes,
      intervalSeconds: 15,
      p99Ms: options.goalP99Ms,
      met: Object.fromEntries(
        options.dialects.map((dialect) => {
          const r = results.find(
            (x) => x.dialect === dialect && x.nodes === options.goalNodes && !x.failed && x.replicas === (options.replicas?.[0] ?? null),
          );
          return [dialect, r && options.intervalSeconds === 15 ? goalMet(r, options) : null];
        }),
      ),
    },
    scenarios: results,
  };
  fs.mkdirSync(path.dirname(options.out), { recursive: true });
  fs.writeFileSync(options.out, `${compactJson(report)}\n`);
  log(`results written to ${path.relative(process.cwd(), options.out) || options.out}`);
  if (results.some((r) => r.failed)) process.exitCode = 1;
}

main().catch(async (error) => {
  console.error(error.stack ?? error);
  await runCleanups();
  process.exit(1);
});
