#!/usr/bin/env node
// Fleet benchmark: many simulated agents heartbeating to one real control plane.
// For every dialect x fleet size: start `fogline server` on a temp data dir and a throwaway
// database, enrol N nodes with one join token, run the load generator in separate process(es),
// measure a steady-state window, stop everything and clean up. See bench/fleet/README.md.
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
import { createDatabase, startServer } from './lib/server.js';
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
  --out <file>              results JSON                            (default bench/fleet/results/latest.json)
  --profile                 run the server with --cpu-prof; profiles go to --profile-dir
  --profile-dir <dir>       where .cpuprofile files go              (default <tmp>/fogline-fleet-profiles)
  --server-node-args <args> extra node flags for the server, space separated (e.g. "--max-old-space-size=256")
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
      out: { type: 'string', default: path.join(HERE, 'results', 'latest.json') },
      profile: { type: 'boolean', default: false },
      'profile-dir': { type: 'string', default: path.join(os.tmpdir(), 'fogline-fleet-profiles') },
      'server-node-args': { type: 'string', default: '' },
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
  return {
    nodes,
    dialects,
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
    out: path.resolve(values.out),
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

function cpuSnapshot(serverPid, workerPids, dbNames) {
  return {
    at: performance.now(),
    server: processCpuSeconds(serverPid),
    workers: groupCpuSeconds(workerPids),
    db: groupCpuSeconds(pidsNamed(dbNames)),
    machine: machineCpuSeconds(),
    ctx: processContextSwitches(serverPid),
  };
}

async function runScenario(options, dialect, nodeCount) {
  const context = {};
  try {
    return await runScenarioSteps(options, dialect, nodeCount, context);
  } catch (error) {
    // "fetch failed" and friends usually mean the server went away: say so, with its last words.
    const exit = context.server?.unexpectedExit();
    throw exit ? new Error(exit, { cause: error }) : error;
  }
}

async function runScenarioSteps(options, dialect, nodeCount, context) {
  const tag = `${dialect}-${nodeCount}`;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `fogline-fleet-${tag}-`));
  if (!options.keep) cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const database = await createDatabase(dialect, {
    dataDir,
    pgUrl: options.pgUrl,
    mysqlUrl: options.mysqlUrl,
    tag: `${process.pid}_${nodeCount}`,
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
  log(`${tag}: starting the control plane (${dialect}${database.name ? `, database ${database.name}` : ''})`);
  const server = await startServer({ dataDir, dbUrl: database.url, intervalSeconds: options.intervalSeconds, nodeArgs });
  context.server = server;
  cleanups.push(() => server.stop());
  log(`${tag}: server pid ${server.pid} at ${server.url}; enrolling ${nodeCount} nodes (${options.enrolConcurrency} in flight)`);

  const enrolment = await enrolFleet(server, nodeCount, options.enrolConcurrency);
  log(`${tag}: enrolled ${nodeCount} nodes in ${enrolment.seconds.toFixed(1)} s (${enrolment.perSecond.toFixed(0)}/s)`);
  const rssAfterEnrol = processRssBytes(server.pid);

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
      url: server.url,
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
  const before = cpuSnapshot(server.pid, workerPids, dbNames);
  // Once a second: server RSS, and CPU% of the server, load generator and the whole box in that
  // second, so latency spikes can be matched against what else the machine was doing.
  const rssSamples = [];
  const cpuSeconds = [];
  let previous = before;
  const sample = () => {
    const rss = processRssBytes(server.pid);
    if (rss !== undefined) rssSamples.push(rss);
    const now = {
      at: performance.now(),
      server: processCpuSeconds(server.pid) ?? previous.server,
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
  const after = cpuSnapshot(server.pid, workerPids, dbNames);
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

  const unexpectedExit = server.unexpectedExit();
  if (unexpectedExit) throw new Error(unexpectedExit);

  // Stop the server now (a CPU profile is written on exit), then clean up the rest.
  const stopRequestedEpoch = Date.now();
  const exit = await server.stop();
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
  const serverCpu = after.server - before.server;
  const generatorCpu = groupCpuDelta(before.workers, after.workers);
  const dbCpu = groupCpuDelta(before.db, after.db);
  const roundAll = (summary) => Object.fromEntries(Object.entries(summary).map(([k, v]) => [k, k === 'count' ? v : round(v, 2)]));
  return {
    dialect,
    nodes: nodeCount,
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
    server: {
      cpuPercent: round((serverCpu / wallSeconds) * 100, 1),
      cpuMsPerHeartbeat: round((serverCpu * 1000) / Math.max(1, sum('okInWindow')), 3),
      rssAvgMiB: round(rssSamples.reduce((a, b) => a + b, 0) / rssSamples.length / MiB, 1),
      rssPeakMiB: round(Math.max(...rssSamples) / MiB, 1),
      rssAfterEnrolMiB: round((rssAfterEnrol ?? Number.NaN) / MiB, 1),
      // Context switches per second: involuntary ones mean the server was runnable but preempted.
      voluntaryCtxSwitchesPerSecond: round((after.ctx.voluntary - before.ctx.voluntary) / wallSeconds, 0),
      involuntaryCtxSwitchesPerSecond: round((after.ctx.involuntary - before.ctx.involuntary) / wallSeconds, 0),
      exit,
    },
    databaseCpuPercent: dbNames.length ? round((dbCpu / wallSeconds) * 100, 1) : null,
    databaseCpuMsPerHeartbeat: dbNames.length ? round((dbCpu * 1000) / Math.max(1, sum('okInWindow')), 3) : null,
    loadGeneratorCpuPercent: round((generatorCpu / wallSeconds) * 100, 1),
    machine: {
      cpus: os.cpus().length,
      busyPercentOfAllCores: round((machineBusy / machineTotal) * 100, 1),
      // Everything else on the box (other users' builds and tests...), percent of one core.
      otherCpuPercent: round(((machineBusy - serverCpu - generatorCpu - dbCpu) / wallSeconds) * 100, 1),
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
      ? [r.dialect, String(r.nodes), 'FAILED', '(below)', ...Array(header.length - 4).fill('')]
      : [
          r.dialect,
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
  for (const r of results) if (r.failed) lines.push(`FAILED ${r.dialect} ${r.nodes}: ${r.failed}`);
  lines.push('', 'Slowest seconds of each window (p99 ms of heartbeats due that second; CPU% srv/gen/box in that second):');
  for (const r of results) {
    if (r.failed) continue;
    const worst = [...r.timeline].sort((a, b) => (b.p99 ?? 0) - (a.p99 ?? 0)).slice(0, 4);
    const calm = r.timeline.filter((t) => t.boxCpu !== null && t.boxCpu < 100);
    const calmP99 = calm.length ? Math.max(...calm.map((t) => t.p99 ?? 0)) : null;
    lines.push(
      `  ${`${r.dialect} ${r.nodes}`.padEnd(15)} ` +
        worst.map((t) => `t=${t.s}s ${fmt(t.p99, 0)}ms (${t.srvCpu}/${t.genCpu}/${t.boxCpu})`).join(', ') +
        (calmP99 !== null ? `; worst p99 in seconds with box CPU < 100%: ${fmt(calmP99, 1)} ms (${calm.length} s)` : ''),
    );
  }
  lines.push('');
  for (const dialect of options.dialects) {
    const result = results.find((r) => r.dialect === dialect && r.nodes === options.goalNodes && !r.failed);
    const goal = `${options.goalNodes} nodes @ ${options.intervalSeconds} s, p99 < ${options.goalP99Ms} ms`;
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
    for (const nodeCount of options.nodes) {
      try {
        results.push(await runScenario(options, dialect, nodeCount));
      } catch (error) {
        if (interrupted) return; // the signal handler cleans up and exits
        log(`${dialect}-${nodeCount} failed: ${error.stack ?? error}`);
        await runCleanups();
        results.push({ dialect, nodes: nodeCount, failed: String(error.message ?? error).split('\n')[0] });
      }
      if (interrupted) return;
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
    },
    goal: {
      nodes: options.goalNodes,
      intervalSeconds: 15,
      p99Ms: options.goalP99Ms,
      met: Object.fromEntries(
        options.dialects.map((dialect) => {
          const r = results.find((x) => x.dialect === dialect && x.nodes === options.goalNodes && !x.failed);
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
