#!/usr/bin/env node
// Workers benchmark (issue 16, "Numbers"): training runs per hour with 1 and with 2 `fogline worker`
// processes on one work queue. One control plane (`fogline server --run-concurrency 0`) on a
// throwaway PostgreSQL database queues the runs on Redis (BullMQ, a channel of this run's own);
// the workers take them, train them and hand the bundles in over the REST API. Per scenario: N
// forecast runs on the vendored PJM East series, submitted at once, timed until all succeeded.
// See README.md.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { FOGLINE_BIN, ROOT, machineFacts, uploadPjme } from '../lib/cluster.js';
import { groupCpuDelta, groupCpuSeconds, machineCpuSeconds, pidsNamed, processCpuSeconds } from '../fleet/lib/proc-stats.js';
import { createDatabase, redact, startServer, trackChild } from '../fleet/lib/server.js';
import { fmt, renderTable, round } from '../fleet/lib/stats.js';
import { adminApi } from '../replicas/lib/replicas.js';
import { cleanupStack, progressLog } from '../fleet/lib/bench-run.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

const HELP = `Usage: node bench/workers/run.js [options]

  --runs <n>          forecast runs submitted at once per scenario   (default 8)
  --workers <list>    scenarios: worker processes, in order          (default 1,2)
  --epochs <n>        epochs per run (patience = epochs: no early stop) (default 8)
  --pg-url <url>      PostgreSQL server (no database)                (default postgres://postgres@127.0.0.1:5432)
  --redis <url>       Redis for the work queue                       (default redis://127.0.0.1:6379)
  --out <file>        results JSON                                   (default bench/workers/results/latest.json)
  --keep              keep the temp folder (server data dir, workers' caches)
  -h, --help          this text
`;

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string', default: '8' },
      workers: { type: 'string', default: '1,2' },
      epochs: { type: 'string', default: '8' },
      'pg-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432' },
      redis: { type: 'string', default: 'redis://127.0.0.1:6379' },
      out: { type: 'string', default: path.join(HERE, 'results', 'latest.json') },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const count = (name, min, max) => {
    const value = Number(values[name]);
    if (!Number.isInteger(value) || value < min || value > max)
      throw new Error(`--${name} must be a whole number ${min}..${max}, not "${values[name]}"`);
    return value;
  };
  const workers = values.workers.split(',').map((part) => Number(part.trim()));
  if (workers.length === 0 || workers.some((w) => !Number.isInteger(w) || w < 1 || w > 16))
    throw new Error(`--workers wants worker counts 1..16, e.g. 1,2, not "${values.workers}"`);
  for (const url of [values['pg-url'], values.redis]) {
    if (!['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname)) throw new Error(`loopback only: ${url}`);
  }
  return {
    runs: count('runs', 1, 500),
    workers,
    epochs: count('epochs', 1, 1000),
    pgUrl: values['pg-url'],
    redis: values.redis,
    out: path.resolve(values.out),
    keep: values.keep,
  };
}

const options = parseOptions(process.argv.slice(2));
const say = progressLog();
const cleanups = cleanupStack('stopping the workers and the control plane, dropping the database');
const { cleanUp } = cleanups;

// ---------------------------------------------------------------- processes

/**
 * Spawns `fogline worker` (log level info: it says "waiting for runs" once it listens on the queue)
 * and waits for that line. Returns { name, pid, stop, unexpectedExit, output }.
 */
async function startWorker({ name, serverUrl, token, redis, channel, cacheDir }) {
  const args = [
    ...['worker', '--server', serverUrl, '--token', token, '--name', name, '--cache-dir', cacheDir],
    ...['--redis', redis, '--redis-channel', channel, '--concurrency', '1', '--log-level', 'info'],
  ];
  // FOGLINE_* in the caller's environment would change what the worker is told here.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('FOGLINE_')));
  const child = spawn(process.execPath, [FOGLINE_BIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lifetime = trackChild(child);
  let output = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker ${name} did not start:\n${redact(output)}`)), 60_000);
    const onData = (chunk) => {
      output = (output + chunk.toString()).slice(-16_384);
      if (output.includes('"msg":"waiting for runs"')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`worker ${name} exited (code ${code}, signal ${signal}) before it listened:\n${redact(output)}`));
    });
  });
  return {
    name,
    pid: child.pid,
    stop: (graceMs = 15_000) => lifetime.stop(graceMs),
    unexpectedExit: () =>
      lifetime.unexpectedExit()
        ? `worker ${name} (pid ${child.pid}) exited during the run (${JSON.stringify(lifetime.exited)})`
        : undefined,
    output: () => redact(output),
  };
}

/** Removes the work queue's keys (`<channel>:queue:*`) from Redis. */
async function dropQueueKeys(redisUrl, channel) {
  const client = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  client.on('error', () => undefined);
  await client.connect();
  let removed = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${channel}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) removed += await client.del(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
  return removed;
}

// ---------------------------------------------------------------- measuring

function cpuSnapshot(server, workers) {
  return {
    at: Date.now(),
    workers: workers.map((w) => processCpuSeconds(w.pid)),
    server: processCpuSeconds(server.pid),
    bench: processCpuSeconds(process.pid),
    postgres: groupCpuSeconds(pidsNamed(['postgres'])),
    redis: groupCpuSeconds(pidsNamed(['redis-server'])),
    machine: machineCpuSeconds(),
    load: os.loadavg()[0],
  };
}

function cpuDelta(before, after) {
  const seconds = (after.at - before.at) / 1000;
  const machineBusy = after.machine.busy - before.machine.busy;
  const workers = after.workers.map((cpu, i) => round((cpu ?? Number.NaN) - (before.workers[i] ?? Number.NaN), 1));
  const server = round(after.server - before.server, 1);
  const bench = round(after.bench - before.bench, 1);
  const postgres = round(groupCpuDelta(before.postgres, after.postgres), 1);
  const redis = round(groupCpuDelta(before.redis, after.redis), 1);
  const ours = workers.reduce((a, b) => a + (b ?? 0), 0) + server + bench + postgres + redis;
  return {
    windowSeconds: round(seconds, 1),
    workerCpuSeconds: workers,
    workerCpuPercent: workers.map((c) => round((100 * c) / seconds, 0)),
    serverCpuSeconds: server,
    benchCpuSeconds: bench,
    postgresCpuSeconds: postgres,
    redisCpuSeconds: redis,
    machineBusyCpuSeconds: round(machineBusy, 1),
    // What else ran on the machine meanwhile (other users' work): machine busy minus the processes above.
    otherCpuSeconds: round(machineBusy - ours, 1),
    otherCores: round((machineBusy - ours) / seconds, 2),
    machineBusyPercent: round((100 * machineBusy) / Math.max(1e-9, after.machine.total - before.machine.total), 0),
    loadAverage1mBefore: round(before.load, 2),
    loadAverage1mAfter: round(after.load, 2),
  };
}

const mean = (values) => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : Number.NaN);
const ms = (iso) => Date.parse(iso);

/** Polls GET /api/v1/runs until every run in `ids` has ended; prints progress every 3 s. Returns the last list and the queue samples. */
async function waitForRuns(api, ids, { label, t0, timeoutMs, workers }) {
  const wanted = new Set(ids);
  const samples = [];
  let printed = Date.now();
  for (;;) {
    for (const worker of workers) {
      const gone = worker.unexpectedExit();
      if (gone) throw new Error(`${gone}; its last output:\n${worker.output().split('\n').slice(-5).join('\n')}`);
    }
    const list = await api.json('GET', `/api/v1/runs?limit=${Math.min(500, ids.length + 10)}`);
    const runs = list.runs.filter((run) => wanted.has(run.id));
    if (list.queue) samples.push({ at: Date.now(), ...list.queue });
    const byStatus = {};
    for (const run of runs) byStatus[run.status] = (byStatus[run.status] ?? 0) + 1;
    const ended = (byStatus.succeeded ?? 0) + (byStatus.failed ?? 0) + (byStatus.canceled ?? 0);
    if (runs.length === ids.length && ended === ids.length) return { runs, samples };
    if (Date.now() - t0 > timeoutMs)
      throw new Error(`${label}: not all runs ended within ${timeoutMs / 1000} s: ${JSON.stringify(byStatus)}`);
    if (Date.now() - printed >= 3000) {
      printed = Date.now();
      const q = list.queue;
      say(
        `${label}: +${((Date.now() - t0) / 1000).toFixed(1)} s, queued ${byStatus.queued ?? 0}, running ${byStatus.running ?? 0}, ` +
          `succeeded ${byStatus.succeeded ?? 0}/${ids.length}, failed ${byStatus.failed ?? 0}; ` +
          (q
            ? `queue waiting ${q.waiting}, active ${q.active}, delayed ${q.delayed}, oldest ${fmt(q.oldestWaitingSeconds, 1)} s`
            : 'no queue stats'),
      );
    }
    await sleep(500);
  }
}

// ---------------------------------------------------------------- one scenario

async function runScenario(workerCount, ctx) {
  const label = `${workerCount} worker${workerCount > 1 ? 's' : ''}`;
  const model = `bench-workers-${workerCount}w`;
  say(`=== ${label}, ${options.runs} runs of ${options.epochs} epochs ===`);
  const workers = [];
  const stopWorkers = () => Promise.all(workers.map((w) => w.stop()));
  cleanups.push(stopWorkers);
  for (let i = 1; i <= workerCount; i++) {
    const name = `${workerCount}w-${i}`;
    // A fresh cache per worker and scenario: no step output of an earlier scenario is reused.
    const cacheDir = path.join(ctx.tmpRoot, `cache-${name}`);
    workers.push(
      await startWorker({
        name,
        serverUrl: ctx.server.url,
        token: ctx.operatorToken,
        redis: options.redis,
        channel: ctx.channel,
        cacheDir,
      }),
    );
  }
  say(`workers ${workers.map((w) => `${w.name} pid ${w.pid}`).join(', ')}: waiting for runs`);
  await sleep(2000);

  const before = cpuSnapshot(ctx.server, workers);
  const t0 = Date.now();
  // Distinct seeds (also across scenarios): no run's training is a cached step.
  const submitted = await Promise.all(
    Array.from({ length: options.runs }, (_, i) =>
      ctx.api.json('POST', '/api/v1/runs', {
        pipeline: 'forecast',
        dataset: 'pjme',
        model,
        gate: 'none',
        params: { epochs: options.epochs, patience: options.epochs, seed: workerCount * 1000 + i + 1 },
      }),
    ),
  );
  const submitSeconds = (Date.now() - t0) / 1000;
  const queueAfterSubmit = (await ctx.api.json('GET', '/api/v1/runs?limit=1')).queue ?? null;
  say(
    `${label}: ${submitted.length} runs submitted in ${submitSeconds.toFixed(2)} s; queue ${queueAfterSubmit ? JSON.stringify(queueAfterSubmit) : 'stats missing'}`,
  );
  const ids = submitted.map((run) => run.id);
  const { runs, samples } = await waitForRuns(ctx.api, ids, {
    label,
    t0,
    timeoutMs: Math.max(600_000, options.runs * options.epochs * 15_000),
    workers,
  });
  const after = cpuSnapshot(ctx.server, workers);
  const failed = runs.filter((run) => run.status !== 'succeeded');
  if (failed.length > 0)
    throw new Error(`${label}: ${failed.length} runs did not succeed: ${failed.map((r) => `${r.id} ${r.status} ${r.error}`).join('; ')}`);

  // Wall time: from the first submit until the last run finished (the server's finishedAt, same clock).
  const lastFinished = Math.max(...runs.map((run) => ms(run.finishedAt)));
  const wallSeconds = (lastFinished - t0) / 1000;
  const queueWait = runs.map((run) => (ms(run.startedAt) - ms(run.createdAt)) / 1000);
  const durations = runs.map((run) => (ms(run.finishedAt) - ms(run.startedAt)) / 1000);
  const trainSeconds = runs.map((run) => (run.steps.find((s) => s.name === 'train')?.durationMs ?? Number.NaN) / 1000);
  const perWorker = Object.fromEntries(workers.map((w) => [w.name, runs.filter((run) => run.worker === w.name).length]));
  const queueAfter = (await ctx.api.json('GET', '/api/v1/runs?limit=1')).queue ?? null;

  // Every run registered exactly one version, and no version came from elsewhere.
  const { versions } = await ctx.api.json('GET', `/api/v1/models/${model}/versions`);
  const versionsPerRun = new Map(ids.map((id) => [id, 0]));
  for (const version of versions) versionsPerRun.set(version.lineage.runId, (versionsPerRun.get(version.lineage.runId) ?? 0) + 1);
  const oneVersionEach =
    versions.length === ids.length &&
    ids.every((id) => versionsPerRun.get(id) === 1) &&
    runs.every((run) => versions.some((v) => v.version === run.registeredVersion && v.lineage.runId === run.id));
  const attempts = [...new Set(runs.map((run) => run.attempt))].sort();

  const cpu = cpuDelta(before, after);
  const workerCpu = cpu.workerCpuSeconds.reduce((a, b) => a + b, 0);
  await stopWorkers();
  const result = {
    workers: workerCount,
    runs: ids.length,
    epochs: options.epochs,
    submitSeconds: round(submitSeconds, 2),
    wallSeconds: round(wallSeconds, 1),
    runsPerHour: round((3600 * ids.length) / wallSeconds, 0),
    meanQueueWaitSeconds: round(mean(queueWait), 1),
    maxQueueWaitSeconds: round(Math.max(...queueWait), 1),
    meanRunSeconds: round(mean(durations), 1),
    meanTrainStepSeconds: round(mean(trainSeconds), 1),
    runsPerWorker: perWorker,
    attempts,
    versionsRegistered: versions.length,
    oneVersionPerRun: oneVersionEach,
    queue: {
      afterSubmit: queueAfterSubmit,
      peakWaiting: Math.max(0, ...samples.map((s) => s.waiting)),
      peakActive: Math.max(0, ...samples.map((s) => s.active)),
      peakDelayed: Math.max(0, ...samples.map((s) => s.delayed)),
      peakOldestWaitingSeconds: round(Math.max(0, ...samples.map((s) => s.oldestWaitingSeconds)), 1),
      samples: samples.length,
      afterAll: queueAfter,
    },
    cpu: { ...cpu, workerCpuSecondsPerRun: round(workerCpu / ids.length, 1) },
  };
  // Runs per hour for each core the workers had: what the share of a busy machine they got gave.
  result.runsPerHourPerWorkerCore = round((3600 * ids.length) / workerCpu, 0);
  say(
    `${label}: ${ids.length} runs in ${fmt(result.wallSeconds, 1)} s = ${fmt(result.runsPerHour, 0)} runs/h; ` +
      `queue wait mean ${fmt(result.meanQueueWaitSeconds, 1)} s, run mean ${fmt(result.meanRunSeconds, 1)} s (train ${fmt(result.meanTrainStepSeconds, 1)} s); ` +
      `runs per worker ${JSON.stringify(perWorker)}; worker CPU ${cpu.workerCpuPercent.join(' + ')} %, server ${fmt(cpu.serverCpuSeconds, 1)} s, ` +
      `postgres ${fmt(cpu.postgresCpuSeconds, 1)} s, other processes ${fmt(cpu.otherCores, 2)} cores, machine busy ${fmt(cpu.machineBusyPercent, 0)} %; ${versions.length} versions, one per run: ${oneVersionEach}`,
  );
  return result;
}

// ---------------------------------------------------------------- output

function printTable(scenarios) {
  const base = scenarios.find((s) => s.workers === 1) ?? scenarios[0];
  const rows = scenarios.map((s) => [
    String(s.workers),
    String(s.runs),
    fmt(s.wallSeconds, 1),
    fmt(s.runsPerHour, 0),
    fmt(s.runsPerHour / base.runsPerHour, 2),
    fmt(s.meanQueueWaitSeconds, 1),
    fmt(s.meanRunSeconds, 1),
    fmt(s.meanTrainStepSeconds, 1),
    s.cpu.workerCpuPercent.map((p) => fmt(p, 0)).join('+'),
    fmt(s.cpu.workerCpuSecondsPerRun, 1),
    fmt(s.runsPerHourPerWorkerCore, 0),
    fmt(s.cpu.serverCpuSeconds, 1),
    fmt(s.cpu.postgresCpuSeconds, 1),
    fmt(s.cpu.otherCores, 2),
    fmt(s.cpu.machineBusyPercent, 0),
    `${s.queue.peakWaiting}/${s.queue.peakActive}/${s.queue.peakDelayed}`,
    `${s.queue.afterAll?.waiting ?? '-'}/${s.queue.afterAll?.active ?? '-'}`,
    `${s.versionsRegistered} ${s.oneVersionPerRun ? 'yes' : 'NO'}`,
    `${fmt(s.cpu.loadAverage1mBefore, 1)}/${fmt(s.cpu.loadAverage1mAfter, 1)}`,
  ]);
  console.log(
    `\nTraining runs per hour (forecast, ${options.epochs} epochs, submitted at once; ratio against ${base.workers} worker${base.workers > 1 ? 's' : ''})\n`,
  );
  console.log(
    renderTable(
      [
        'workers',
        'runs',
        'wall s',
        'runs/h',
        'ratio',
        'queue wait s',
        'run s',
        'train s',
        'worker CPU %',
        'worker CPU s/run',
        'runs/h per worker core',
        'server CPU s',
        'postgres CPU s',
        'others, cores',
        'machine busy %',
        'queue peak wait/active/delayed',
        'queue after',
        'versions, 1/run',
        'load 1m before/after',
      ],
      rows,
    ),
  );
}

// ---------------------------------------------------------------- main

async function main() {
  if (!fs.existsSync(path.join(ROOT, 'dist/cli/main.js'))) throw new Error('dist/ is missing: run npx tsc -p tsconfig.build.json first');
  const loadBefore = os.loadavg();
  say(`machine: ${os.cpus().length} CPUs, load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')}`);
  const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'fogline-bench-workers-'));
  cleanups.push(() => {
    if (options.keep) say(`kept ${tmpRoot}`);
    else fs.rmSync(tmpRoot, { recursive: true, force: true });
  });
  const channel = `fogline-bench-workers-${process.pid}-${randomBytes(4).toString('hex')}`;
  cleanups.push(async () => {
    const removed = await dropQueueKeys(options.redis, channel);
    if (removed > 0) say(`removed ${removed} work-queue keys from Redis`);
  });
  const database = await createDatabase('postgres', { pgUrl: options.pgUrl, tag: `workers_${process.pid}` });
  cleanups.push(() => database.drop());
  const server = await startServer({
    dataDir: path.join(tmpRoot, 'server'),
    dbUrl: database.url,
    extraArgs: ['--redis', options.redis, '--redis-channel', channel, '--run-concurrency', '0'],
    label: 'the control plane',
  });
  cleanups.push(() => server.stop());
  say(`control plane ${server.url} pid ${server.pid} on database ${database.name}, Redis channel ${channel}, --run-concurrency 0`);
  const api = adminApi(server.url, server.adminToken);
  await uploadPjme(api.api);
  const { token: operatorToken } = await api.json('POST', '/api/v1/tokens', { name: 'bench workers', role: 'operator' });
  say('dataset pjme uploaded (data/energy/PJME_hourly_trimmed.csv), operator token created');

  const ctx = { tmpRoot, channel, server, api, operatorToken };
  const scenarios = [];
  for (const workerCount of options.workers) {
    scenarios.push(await runScenario(workerCount, ctx));
    const gone = server.unexpectedExit();
    if (gone) throw new Error(gone);
  }
  printTable(scenarios);
  const base = scenarios.find((s) => s.workers === 1) ?? scenarios[0];
  const ratios = Object.fromEntries(
    scenarios.filter((s) => s !== base).map((s) => [`${s.workers}/${base.workers}`, round(s.runsPerHour / base.runsPerHour, 2)]),
  );
  for (const [pair, ratio] of Object.entries(ratios)) say(`runs/hour ratio ${pair} workers: ${fmt(ratio, 2)}`);
  const results = {
    when: new Date().toISOString(),
    machine: machineFacts(loadBefore),
    options: { ...options, out: path.relative(ROOT, options.out) },
    setup: {
      pipeline: 'forecast',
      dataset: 'data/energy/PJME_hourly_trimmed.csv',
      params: { epochs: options.epochs, patience: options.epochs, seed: 'workers * 1000 + i (one per run)' },
      server: '--run-concurrency 0 --redis <url> --redis-channel <unique> --db postgres://…',
      worker: '--concurrency 1, a fresh --cache-dir each',
    },
    scenarios,
    runsPerHourRatio: ratios,
  };
  fs.mkdirSync(path.dirname(options.out), { recursive: true });
  fs.writeFileSync(options.out, `${JSON.stringify(results, null, 2)}\n`);
  say(`results in ${path.relative(ROOT, options.out)}`);
}

main()
  .catch((error) => {
    console.error(error.stack ?? error);
    process.exitCode = 1;
  })
  .finally(() => cleanUp());
