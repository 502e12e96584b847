#!/usr/bin/env node
// Replicas benchmark (issue 16, "Outgrow one machine"): control-plane replicas (`fogline server`)
// on one PostgreSQL database, Redis between them, artifacts in the database, one signing key; a
// fleet of simulated agents (lib/sim-agent.js: the agent's own sync code from dist/, no predictor)
// spread over the replicas. Measures (1) a fleet rollout: an alias moved through one replica until
// every agent reports the new version serving, and (2) failover: the leader killed with SIGKILL,
// until the other replica leads and its rollout controller moves the fleet on. See README.md.
import { execFileSync, fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ROOT, machineFacts } from '../lib/cluster.js';
import { groupCpuDelta, groupCpuSeconds, machineCpuSeconds, pidsNamed, processCpuSeconds } from '../fleet/lib/proc-stats.js';
import { createDatabase } from '../fleet/lib/server.js';
import { fmt, renderTable, round, summarizeLatencies } from '../fleet/lib/stats.js';
import { Replica, adminApi, freePort, makeSigningKey, processWrittenBytes } from './lib/replicas.js';
import { cleanupStack, progressLog } from '../fleet/lib/bench-run.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const WORKER = path.join(HERE, 'agent-worker.js');
const MODEL = 'digits';
const DEPLOYMENT = 'digits';
const ALIAS = 'prod';
const LABELS = { bench: 'replicas' };
const MiB = 1024 * 1024;

const HELP = `Usage: node bench/replicas/run.js [options]

  --agents <n>              simulated agents                         (default 1000)
  --replicas <list>         scenarios: replica counts, in order      (default 2,1)
  --rollouts <n>            measured rollouts per scenario           (default 2)
  --failovers <n>           leader kills (scenarios with 2+ replicas) (default 3)
  --workers <n>             agent processes                          (default 4)
  --enrol-concurrency <n>   enrolments in flight per agent process   (default 8)
  --model <digits|tiny|file.onnx>  what is rolled out: digits trains examples/pytorch's CNN (~8 s);
                            tiny is src/ml/onnx/fixtures/tiny-mlp.onnx (default digits)
  --wait <s>                longest wait for one phase               (default 120)
  --settle <s>              quiet time before each measurement       (default 5)
  --goal-seconds <s>        rollout goal: all agents serving within  (default 10)
  --lease-seconds <s>       failover goal: lease + 2 s               (default 10)
  --pg-url <url>            PostgreSQL server (no database)          (default postgres://postgres@127.0.0.1:5432)
  --redis <url>             Redis for the change events              (default redis://127.0.0.1:6379)
  --out <file>              results JSON                             (default bench/replicas/results/latest.json)
  --keep                    keep the temp folder (data dirs, agents' caches)
  -h, --help                this text
`;

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      agents: { type: 'string', default: '1000' },
      replicas: { type: 'string', default: '2,1' },
      rollouts: { type: 'string', default: '2' },
      failovers: { type: 'string', default: '3' },
      workers: { type: 'string', default: '4' },
      'enrol-concurrency': { type: 'string', default: '8' },
      model: { type: 'string', default: 'digits' },
      wait: { type: 'string', default: '120' },
      settle: { type: 'string', default: '5' },
      'goal-seconds': { type: 'string', default: '10' },
      'lease-seconds': { type: 'string', default: '10' },
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
  const count = (name, min = 0) => {
    const value = Number(values[name]);
    if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be a whole number >= ${min}, not "${values[name]}"`);
    return value;
  };
  const replicas = values.replicas.split(',').map((part) => Number(part.trim()));
  if (replicas.some((r) => !Number.isInteger(r) || r < 1 || r > 8))
    throw new Error(`--replicas wants counts 1..8, not "${values.replicas}"`);
  for (const url of [values['pg-url'], values.redis]) {
    if (!['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname)) throw new Error(`loopback only: ${url}`);
  }
  return {
    agents: count('agents', 1),
    replicas,
    rollouts: count('rollouts', 1),
    failovers: count('failovers'),
    workers: count('workers', 1),
    enrolConcurrency: count('enrol-concurrency', 1),
    model: values.model,
    waitMs: count('wait', 1) * 1000,
    settleMs: Number(values.settle) * 1000,
    goalSeconds: Number(values['goal-seconds']),
    leaseSeconds: Number(values['lease-seconds']),
    pgUrl: values['pg-url'],
    redis: values.redis,
    out: path.resolve(values.out),
    keep: values.keep,
  };
}

const options = parseOptions(process.argv.slice(2));
const say = progressLog();
const cleanups = cleanupStack('stopping agents and replicas, dropping the database');
const { cleanUp } = cleanups;

// ---------------------------------------------------------------- model

/** The .onnx file rolled out and its class names (digits), trained or found. */
function prepareOnnx(choice, dir) {
  if (choice === 'tiny') {
    return { file: path.join(ROOT, 'src/ml/onnx/fixtures/tiny-mlp.onnx'), labels: undefined, what: 'tiny-mlp.onnx (test fixture)' };
  }
  if (choice === 'digits') {
    const out = path.join(dir, 'digits-model');
    say('training the digits CNN (examples/pytorch/train_digits_cnn.py)');
    execFileSync('/usr/bin/python3', ['examples/pytorch/train_digits_cnn.py', '--out', out], { cwd: ROOT, stdio: 'ignore' });
    const labelsFile = path.join(out, 'labels.txt');
    return {
      file: path.join(out, 'digits-cnn.onnx'),
      labels: fs.existsSync(labelsFile) ? fs.readFileSync(labelsFile, 'utf8').trim() : undefined,
      what: 'digits CNN (examples/pytorch, trained for this run)',
    };
  }
  return { file: path.resolve(choice), labels: undefined, what: path.basename(choice) };
}

/**
 * Imports the file as version k. Each import names its own file, so each version's bundle (whose
 * manifest records the file name) differs: agents must download every version, none is cached.
 */
async function importVersion(api, onnx, k) {
  const query = new URLSearchParams({ filename: `digits-cnn-${k}.onnx` });
  if (onnx.labels) query.set('labels', onnx.labels);
  return api.json('POST', `/api/v1/models/${MODEL}/versions?${query}`, fs.readFileSync(onnx.file), {
    'content-type': 'application/octet-stream',
  });
}

// ---------------------------------------------------------------- the simulated fleet

/** The agent processes and what they tell: per agent and version, when it was desired, loaded, served (epoch ms). */
class Fleet {
  constructor({ size, replicas, workers, joinToken, dataRoot }) {
    this.size = size;
    this.replicaOf = Array.from({ length: size }, (_, i) => i % replicas.length);
    this.marks = new Map();
    this.ticks = [];
    this.finals = [];
    this.failure = undefined;
    this.children = [];
    const perWorker = Math.ceil(size / workers);
    for (let w = 0; w < workers; w++) {
      const agents = [];
      for (let i = w * perWorker; i < Math.min(size, (w + 1) * perWorker); i++) {
        agents.push({ index: i, name: `sim-${String(i + 1).padStart(5, '0')}`, server: replicas[this.replicaOf[i]].url });
      }
      if (agents.length === 0) continue;
      const child = fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const slot = this.children.length;
      this.children.push(child);
      child.on('message', (message) => this.hear(slot, message));
      child.on('exit', (code, signal) => {
        if (!this.stopping) this.failure ??= `agent process ${slot} exited (code ${code}, signal ${signal})`;
      });
      child.send({
        type: 'init',
        agents,
        joinToken,
        labels: LABELS,
        dataRoot,
        enrolConcurrency: options.enrolConcurrency,
        // Room for two bundles: the previous one is evicted once a new one serves.
        cacheLimitBytes: 1 * MiB,
      });
    }
  }

  hear(slot, message) {
    if (message.type === 'tick') this.ticks[slot] = message;
    else if (message.type === 'marks') {
      for (const [index, kind, version, at] of message.items) {
        const key = `${kind}:${version}`;
        let times = this.marks.get(key);
        if (!times) this.marks.set(key, (times = new Float64Array(this.size).fill(Number.NaN)));
        times[index] = at;
      }
    } else if (message.type === 'error') this.failure ??= message.message;
    else if (message.type === 'final') this.finals[slot] = message;
  }

  get pids() {
    return this.children.map((child) => child.pid);
  }

  /** Epoch ms of `kind` for `version`, per agent (NaN: not yet), optionally only `indices`. */
  times(kind, version, indices) {
    const times = this.marks.get(`${kind}:${version}`) ?? new Float64Array(this.size).fill(Number.NaN);
    return indices ? indices.map((i) => times[i]) : Array.from(times);
  }

  count(kind, version, indices) {
    return this.times(kind, version, indices).filter((t) => !Number.isNaN(t)).length;
  }

  /** The workers' last ticks, summed. */
  totals() {
    const sum = { enrolled: 0, heartbeated: 0, serving: {}, downloads: { ok: 0, failed: 0, bytes: 0 }, warnings: 0 };
    for (const tick of this.ticks) {
      if (!tick) continue;
      sum.enrolled += tick.enrolled;
      sum.heartbeated += tick.heartbeated;
      sum.warnings += tick.warnings;
      for (const key of ['ok', 'failed', 'bytes']) sum.downloads[key] += tick.downloads[key];
      for (const [version, n] of Object.entries(tick.serving)) sum.serving[version] = (sum.serving[version] ?? 0) + n;
    }
    return sum;
  }

  /** Waits until `done()`, printing `progress()` every 2 s; false on timeout. Throws when an agent process failed. */
  async waitUntil(done, progress, timeoutMs = options.waitMs) {
    const from = Date.now();
    let printed = from;
    for (;;) {
      if (this.failure) throw new Error(this.failure);
      if (done()) return true;
      if (Date.now() - from > timeoutMs) {
        say(`timed out after ${timeoutMs / 1000} s: ${progress()}`);
        return false;
      }
      if (Date.now() - printed >= 2000) {
        printed = Date.now();
        say(progress());
      }
      await sleep(50);
    }
  }

  describe() {
    const t = this.totals();
    const serving = Object.entries(t.serving)
      .map(([version, n]) => `v${version} ${n}`)
      .join(', ');
    return `enrolled ${t.enrolled}/${this.size}, heartbeated ${t.heartbeated}, serving ${serving || 'none'}, downloads ${t.downloads.ok} ok / ${t.downloads.failed} failed, agent warnings ${t.warnings}`;
  }

  async stop() {
    this.stopping = true;
    await Promise.all(
      this.children.map(
        (child) =>
          new Promise((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            try {
              child.send({ type: 'stop' });
            } catch {
              child.kill('SIGKILL');
            }
          }),
      ),
    );
  }
}

// ---------------------------------------------------------------- measuring

function cpuSnapshot(replicas, fleet) {
  return {
    at: Date.now(),
    replicas: replicas.map((r) => ({ cpu: processCpuSeconds(r.pid), written: processWrittenBytes(r.pid) })),
    agents: fleet.pids.reduce((sum, pid) => sum + (processCpuSeconds(pid) ?? 0), 0),
    postgres: groupCpuSeconds(pidsNamed(['postgres'])),
    redis: groupCpuSeconds(pidsNamed(['redis-server'])),
    machine: machineCpuSeconds(),
    downloads: fleet.totals().downloads,
    load: os.loadavg()[0],
  };
}

function cpuDelta(before, after, replicas) {
  const seconds = (after.at - before.at) / 1000;
  return {
    windowSeconds: round(seconds, 2),
    replicaCpuSeconds: replicas.map((r, i) => round((after.replicas[i].cpu ?? Number.NaN) - (before.replicas[i].cpu ?? Number.NaN), 2)),
    replicaWrittenMiB: replicas.map((r, i) =>
      round(((after.replicas[i].written ?? Number.NaN) - (before.replicas[i].written ?? Number.NaN)) / MiB, 2),
    ),
    agentProcessesCpuSeconds: round(after.agents - before.agents, 2),
    postgresCpuSeconds: round(groupCpuDelta(before.postgres, after.postgres), 2),
    redisCpuSeconds: round(groupCpuDelta(before.redis, after.redis), 2),
    machineBusyPercent: round(
      (100 * (after.machine.busy - before.machine.busy)) / Math.max(1e-9, after.machine.total - before.machine.total),
      1,
    ),
    downloadsOk: after.downloads.ok - before.downloads.ok,
    downloadsFailed: after.downloads.failed - before.downloads.failed,
    downloadedMiB: round((after.downloads.bytes - before.downloads.bytes) / MiB, 2),
    loadAverage1mBefore: round(before.load, 2),
    loadAverage1mAfter: round(after.load, 2),
  };
}

/** Seconds from `t0` to each time, summarised (p50, p99, max), over the agents that got there. */
function secondsSince(t0, times) {
  const reached = times.filter((t) => !Number.isNaN(t)).map((t) => (t - t0) / 1000);
  const s = summarizeLatencies(reached);
  return { count: s.count, p50: round(s.p50, 3), p99: round(s.p99, 3), max: round(s.max, 3) };
}

/** Open file descriptors of a process (/proc/<pid>/fd), or null. */
function openFds(pid) {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

async function deploymentView(api) {
  const view = await api.json('GET', `/api/v1/deployments/${DEPLOYMENT}`);
  return view;
}

const TIMED_ROUTES = [
  'POST /api/v1/nodes/:id/deployment-status',
  'GET /api/v1/nodes/:id/artifacts/:model/:version',
  'POST /api/v1/nodes/:id/heartbeat',
];

/** Sum and count of fogline_http_request_duration_seconds per "METHOD route", over every replica (any status). */
async function routeDurations(apis) {
  const totals = new Map();
  for (const api of apis) {
    const text = await (await api.api('GET', '/metrics')).text();
    for (const match of text.matchAll(/^fogline_http_request_duration_seconds_(sum|count)\{([^}]*)\}\s+(\S+)/gm)) {
      const labels = Object.fromEntries([...match[2].matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
      const key = `${labels.method} ${labels.route}`;
      const entry = totals.get(key) ?? { sum: 0, count: 0 };
      entry[match[1]] += Number(match[3]);
      totals.set(key, entry);
    }
  }
  return totals;
}

/** Requests and mean server-side time per route between two routeDurations() readings. */
function routeDelta(before, after) {
  return Object.fromEntries(
    TIMED_ROUTES.map((key) => {
      const a = after.get(key) ?? { sum: 0, count: 0 };
      const b = before.get(key) ?? { sum: 0, count: 0 };
      const count = a.count - b.count;
      return [key, { requests: count, meanMs: count > 0 ? round((1000 * (a.sum - b.sum)) / count, 1) : null }];
    }),
  );
}

/** One measured rollout: the alias moved through `through`, checked through `confirmVia`. */
async function measureRollout(ctx, { version, through, confirmVia }) {
  const { replicas, apis, fleet } = ctx;
  const n = fleet.size;
  const routesBefore = await routeDurations(apis);
  const before = cpuSnapshot(replicas, fleet);
  const t0 = Date.now();
  await apis[through].api('PUT', `/api/v1/models/${MODEL}/aliases/${ALIAS}`, { version });
  const aliasAnsweredMs = Date.now() - t0;
  const complete = await fleet.waitUntil(
    () => fleet.count('served', version) >= n,
    () =>
      `rollout to v${version}: +${((Date.now() - t0) / 1000).toFixed(1)} s, desired ${fleet.count('desired', version)}, ` +
      `loaded ${fleet.count('loaded', version)}, serving ${fleet.count('served', version)}/${n}, failed ${fleet.count('failed', version)}`,
  );
  const after = cpuSnapshot(replicas, fleet);
  const serverTimes = routeDelta(routesBefore, await routeDurations(apis));
  // The agent processes tick once a second: let the last download counts arrive.
  await sleep(1500);
  after.downloads = fleet.totals().downloads;
  const fds = { replicas: replicas.map((r) => openFds(r.pid)), agentProcesses: fleet.pids.map(openFds) };
  // What the control plane says, asked through the replica that did not take the alias move.
  const view = await deploymentView(apis[confirmVia]);
  const confirmedServing = view.nodes.filter((node) => node.state === 'serving' && node.servingVersion === version).length;
  const served = fleet.times('served', version);
  const allServedS = complete ? round((Math.max(...served) - t0) / 1000, 3) : null;
  const result = {
    version,
    through: replicas[through].label,
    confirmedVia: replicas[confirmVia].label,
    complete,
    aliasAnsweredMs,
    allServingSeconds: allServedS,
    perAgentDesiredSeconds: secondsSince(t0, fleet.times('desired', version)),
    perAgentLoadedSeconds: secondsSince(t0, fleet.times('loaded', version)),
    perAgentServingSeconds: secondsSince(t0, served),
    failedReports: fleet.count('failed', version),
    confirmedServing,
    confirmedAfterSeconds: round((Date.now() - t0) / 1000, 2),
    rolloutPhase: view.rollout?.phase ?? null,
    ...cpuDelta(before, after, replicas),
    serverTimes,
    openFds: fds,
  };
  say(
    `v${version} through ${result.through}: all ${result.perAgentServingSeconds.count}/${n} serving after ${fmt(allServedS, 2)} s ` +
      `(p50 ${fmt(result.perAgentServingSeconds.p50, 2)} s, p99 ${fmt(result.perAgentServingSeconds.p99, 2)} s), ` +
      `${result.downloadsOk} downloads ok / ${result.downloadsFailed} failed, ${result.downloadedMiB} MiB; replica CPU ${result.replicaCpuSeconds.join(' + ')} s; ` +
      `${confirmedServing}/${n} serving as seen through ${result.confirmedVia}; server-side mean ` +
      Object.entries(serverTimes)
        .map(([route, t]) => `${route} ${t.requests} x ${fmt(t.meanMs, 1)} ms`)
        .join(', '),
  );
  return result;
}

/** Kills the leader with SIGKILL, moves the alias through the survivor, times the takeover; then restarts the killed one. */
async function measureFailover(ctx, { version, round: k }) {
  const { replicas, apis, fleet } = ctx;
  let roles = await Promise.all(replicas.map((r) => r.role()));
  const leaderIndex = roles.indexOf('leader');
  if (leaderIndex < 0) throw new Error(`no leader before failover ${k}: roles ${roles.join(', ')}`);
  const survivorIndex = roles.findIndex((role, i) => i !== leaderIndex && role === 'follower');
  if (survivorIndex < 0) throw new Error(`no follower to take over in failover ${k}: roles ${roles.join(', ')}`);
  const leader = replicas[leaderIndex];
  const survivor = replicas[survivorIndex];
  const all = Array.from({ length: fleet.size }, (_, i) => i);
  const survivorAgents = all.filter((i) => fleet.replicaOf[i] === survivorIndex);
  const orphanAgents = all.filter((i) => fleet.replicaOf[i] === leaderIndex);
  const othersAgents = all.filter((i) => fleet.replicaOf[i] !== leaderIndex && fleet.replicaOf[i] !== survivorIndex);

  say(`failover ${k}: SIGKILL to leader ${leader.label} (pid ${leader.pid}); alias to v${version} through ${survivor.label}`);
  const t0 = Date.now();
  await leader.kill();
  const killedMs = Date.now() - t0;
  await apis[survivorIndex].api('PUT', `/api/v1/models/${MODEL}/aliases/${ALIAS}`, { version });
  const aliasMovedMs = Date.now() - t0;
  let leaderAt;
  while (!leaderAt && Date.now() - t0 < options.waitMs) {
    if ((await survivor.role(500)) === 'leader') leaderAt = Date.now();
    else await sleep(50);
  }
  const metrics = await (await apis[survivorIndex].api('GET', '/metrics')).text();
  const gauge = /^fogline_control_plane_leader(?:\{[^}]*\})?\s+(\S+)/m.exec(metrics)?.[1] ?? null;
  const complete = await fleet.waitUntil(
    () => fleet.count('served', version, survivorAgents) >= survivorAgents.length,
    () =>
      `failover ${k}: +${((Date.now() - t0) / 1000).toFixed(1)} s, ${survivor.label} is ${leaderAt ? 'leader' : 'not leader yet'}, ` +
      `its agents: desired ${fleet.count('desired', version, survivorAgents)}, serving ${fleet.count('served', version, survivorAgents)}/${survivorAgents.length}`,
  );
  const desired = fleet.times('desired', version, survivorAgents);
  const served = fleet.times('served', version, survivorAgents);
  const firstStep = Math.min(...desired.filter((t) => !Number.isNaN(t)));

  // The killed replica comes back on its address (as a follower); its agents find it again.
  const restartAt = Date.now();
  await leader.start();
  const restartedS = (Date.now() - restartAt) / 1000;
  const orphansBack = await fleet.waitUntil(
    () => fleet.count('served', version, orphanAgents) >= orphanAgents.length,
    () =>
      `failover ${k}: ${leader.label} restarted; its agents serving v${version}: ${fleet.count('served', version, orphanAgents)}/${orphanAgents.length}`,
  );
  roles = await Promise.all(replicas.map((r) => r.role()));
  const result = {
    round: k,
    killed: leader.label,
    survivor: survivor.label,
    version,
    killedMs,
    aliasMovedAfterMs: aliasMovedMs,
    survivorLeaderAfterSeconds: leaderAt ? round((leaderAt - t0) / 1000, 3) : null,
    leaderGaugeOnSurvivor: gauge,
    firstRolloutStepSeconds: Number.isFinite(firstStep) ? round((firstStep - t0) / 1000, 3) : null,
    survivorAgents: survivorAgents.length,
    survivorAgentsAllServingSeconds: complete ? round((Math.max(...served) - t0) / 1000, 3) : null,
    survivorAgentsServingSeconds: secondsSince(t0, served),
    survivorAgentsFailedReports: fleet.count('failed', version, survivorAgents),
    otherAgentsServing: othersAgents.length ? `${fleet.count('served', version, othersAgents)}/${othersAgents.length}` : null,
    killedReplicaRestartSeconds: round(restartedS, 2),
    killedReplicaAgents: orphanAgents.length,
    killedReplicaAgentsServingAfterRestartSeconds: orphansBack
      ? secondsSince(restartAt, fleet.times('served', version, orphanAgents))
      : null,
    rolesAfter: Object.fromEntries(replicas.map((r, i) => [r.label, roles[i] ?? 'no answer'])),
  };
  say(
    `failover ${k}: ${survivor.label} leader after ${fmt(result.survivorLeaderAfterSeconds, 2)} s (gauge ${gauge}), ` +
      `first rollout step at ${fmt(result.firstRolloutStepSeconds, 2)} s, its ${survivorAgents.length} agents serving v${version} after ${fmt(result.survivorAgentsAllServingSeconds, 2)} s; ` +
      `${leader.label} back in ${fmt(restartedS, 1)} s, its agents serving ${fmt(result.killedReplicaAgentsServingAfterRestartSeconds?.max, 1)} s after the restart`,
  );
  return result;
}

// ---------------------------------------------------------------- one scenario

async function runScenario(replicaCount, shared) {
  const label = `${replicaCount} replica${replicaCount > 1 ? 's' : ''}`;
  say(`=== ${label}, ${options.agents} agents ===`);
  const dir = path.join(shared.tmpRoot, `replicas-${replicaCount}`);
  const database = await createDatabase('postgres', { pgUrl: options.pgUrl, tag: `replicas_${process.pid}_${replicaCount}` });
  cleanups.push(() => database.drop());
  say(`database ${database.name}`);
  const replicas = [];
  for (let i = 0; i < replicaCount; i++) {
    replicas.push(
      new Replica({
        label: String.fromCharCode(65 + i),
        dataDir: path.join(dir, `replica-${String.fromCharCode(97 + i)}`),
        port: await freePort(),
        dbUrl: database.url,
        redisUrl: options.redis,
        signingKeyFile: shared.signingKeyFile,
      }),
    );
  }
  cleanups.push(() => Promise.all(replicas.map((r) => r.stop())));
  // One after the other: the first takes the lease and creates the admin token.
  for (const replica of replicas) await replica.start();
  const adminToken = replicas[0].adminToken();
  const apis = replicas.map((r) => adminApi(r.url, adminToken));
  const roles = await Promise.all(replicas.map((r) => r.role()));
  say(`replicas ${replicas.map((r, i) => `${r.label} ${r.url} pid ${r.pid} ${roles[i]}`).join('; ')}`);

  const failovers = replicaCount > 1 ? options.failovers : 0;
  const versions = [];
  for (let k = 1; k <= 1 + options.rollouts + failovers; k++) versions.push(await importVersion(apis[0], shared.onnx, k));
  const digests = new Set(versions.map((v) => v.artifact.sha256));
  if (digests.size !== versions.length) throw new Error('two imported versions have the same bundle: agents would not download them');
  say(`registered ${MODEL} v1..v${versions.length}, bundles of ${versions[0].artifact.sizeBytes} bytes`);
  await apis[0].api('PUT', `/api/v1/models/${MODEL}/aliases/${ALIAS}`, { version: versions[0].version });
  const { token: joinToken } = await apis[0].json('POST', '/api/v1/tokens', {
    name: 'bench replicas join',
    role: 'join',
    maxUses: options.agents,
  });

  const fleetStarted = Date.now();
  const fleet = new Fleet({
    size: options.agents,
    replicas,
    workers: options.workers,
    joinToken,
    dataRoot: path.join(dir, 'agents'),
  });
  cleanups.push(() => fleet.stop());
  const ctx = { replicas, apis, fleet };
  const first = versions[0].version;
  // Enrolled and heartbeated first (placement needs a node's resources), then deployed to all.
  const up = await fleet.waitUntil(
    () => fleet.totals().heartbeated >= options.agents,
    () => fleet.describe(),
    Math.max(options.waitMs, 300_000),
  );
  if (!up) throw new Error(`the fleet did not enrol: ${fleet.describe()}`);
  const enrolSeconds = (Date.now() - fleetStarted) / 1000;
  say(`fleet enrolled: ${fleet.describe()} (${enrolSeconds.toFixed(1)} s)`);
  const deployedAt = Date.now();
  await apis[0].api('POST', '/api/v1/deployments', {
    name: DEPLOYMENT,
    model: `${MODEL}@${ALIAS}`,
    nodeSelector: LABELS,
    strategy: 'all',
  });
  const ready = await fleet.waitUntil(
    () => fleet.count('served', first) >= options.agents,
    () => fleet.describe(),
    Math.max(options.waitMs, 300_000),
  );
  if (!ready) throw new Error(`the fleet did not serve v${first}: ${fleet.describe()}`);
  const setup = {
    enrolSeconds: round(enrolSeconds, 1),
    enrolPerSecond: round(options.agents / enrolSeconds, 1),
    firstDeploySeconds: round((Math.max(...fleet.times('served', first)) - deployedAt) / 1000, 2),
    bundleBytes: versions[0].artifact.sizeBytes,
  };
  say(`fleet up: ${fleet.describe()} (deployment created: all serving v${first} after ${setup.firstDeploySeconds} s)`);

  const through = replicaCount > 1 ? roles.indexOf('follower') : 0;
  const confirmVia = replicaCount > 1 ? roles.indexOf('leader') : 0;
  // What the idle fleet costs: heartbeats (1,000 / 15 s) and long polls held open.
  const idleBefore = cpuSnapshot(replicas, fleet);
  await sleep(Math.max(options.settleMs, 10_000));
  const idle = cpuDelta(idleBefore, cpuSnapshot(replicas, fleet), replicas);
  setup.idle = {
    seconds: idle.windowSeconds,
    replicaCpuPercent: idle.replicaCpuSeconds.map((c) => round((100 * c) / idle.windowSeconds, 1)),
    agentProcessesCpuPercent: round((100 * idle.agentProcessesCpuSeconds) / idle.windowSeconds, 1),
    postgresCpuPercent: round((100 * idle.postgresCpuSeconds) / idle.windowSeconds, 1),
    openFds: { replicas: replicas.map((r) => openFds(r.pid)), agentProcesses: fleet.pids.map(openFds) },
  };
  say(
    `idle fleet: replica CPU ${setup.idle.replicaCpuPercent.join(' + ')} %, agent processes ${setup.idle.agentProcessesCpuPercent} %, postgres ${setup.idle.postgresCpuPercent} %; open fds ${JSON.stringify(setup.idle.openFds)}`,
  );
  const rollouts = [];
  for (let r = 1; r <= options.rollouts; r++) {
    if (r > 1) await sleep(options.settleMs);
    rollouts.push(await measureRollout(ctx, { version: versions[r].version, through, confirmVia }));
  }
  const failoverResults = [];
  for (let k = 1; k <= failovers; k++) {
    await sleep(options.settleMs);
    failoverResults.push(await measureFailover(ctx, { version: versions[options.rollouts + k].version, round: k }));
  }
  const agentDownloads = fleet.totals().downloads;

  await fleet.stop();
  const warnings = fleet.finals.flatMap((f) => f?.warnings.samples ?? []).slice(0, 10);
  const warningCount = fleet.finals.reduce((sum, f) => sum + (f?.warnings.count ?? 0), 0);
  const downloadFailures = fleet.finals.flatMap((f) => f?.downloads.failures ?? []).slice(0, 10);
  const replicaLogs = replicas.map((r) => ({ replica: r.label, tail: r.log().split('\n').slice(-5) }));
  await Promise.all(replicas.map((r) => r.stop()));
  await database.drop();
  return {
    replicas: replicaCount,
    agents: options.agents,
    setup,
    rollouts,
    failovers: failoverResults,
    agentDownloads,
    agentWarnings: { count: warningCount, samples: warnings },
    downloadFailures,
    replicaLogs,
  };
}

// ---------------------------------------------------------------- output

function printTables(scenarios) {
  const rolloutRows = scenarios.flatMap((s) =>
    s.rollouts.map((r) => [
      String(s.replicas),
      String(s.agents),
      `v${r.version} via ${r.through}`,
      fmt(r.allServingSeconds, 2),
      fmt(r.perAgentServingSeconds.p50, 2),
      fmt(r.perAgentServingSeconds.p99, 2),
      fmt(r.perAgentDesiredSeconds.p50, 2),
      fmt(r.perAgentDesiredSeconds.p99, 2),
      `${r.downloadsOk}/${r.downloadsFailed}`,
      fmt(r.downloadedMiB, 1),
      r.replicaCpuSeconds.map((c) => fmt(c, 1)).join('+'),
      r.replicaWrittenMiB.map((c) => fmt(c, 0)).join('+'),
      fmt(r.agentProcessesCpuSeconds, 1),
      fmt(r.postgresCpuSeconds, 1),
      `${fmt(r.loadAverage1mBefore, 1)}/${fmt(r.loadAverage1mAfter, 1)}`,
      r.complete && r.allServingSeconds < options.goalSeconds && r.downloadsFailed === 0 && r.failedReports === 0 ? 'met' : 'NOT met',
    ]),
  );
  console.log(`\nFleet rollout (goal: all serving < ${options.goalSeconds} s, no failed download)\n`);
  console.log(
    renderTable(
      [
        'replicas',
        'agents',
        'rollout',
        'all serving s',
        'p50 s',
        'p99 s',
        'desired p50 s',
        'desired p99 s',
        'downloads ok/failed',
        'MiB',
        'replica CPU s',
        'replica wrote MiB',
        'agents CPU s',
        'postgres CPU s',
        'load 1m before/after',
        'goal',
      ],
      rolloutRows,
    ),
  );
  const failoverRows = scenarios.flatMap((s) =>
    s.failovers.map((f) => [
      String(f.round),
      `${f.killed} -> ${f.survivor}`,
      fmt(f.survivorLeaderAfterSeconds, 2),
      String(f.leaderGaugeOnSurvivor),
      fmt(f.firstRolloutStepSeconds, 2),
      fmt(f.survivorAgentsAllServingSeconds, 2),
      `${fmt(f.survivorAgentsServingSeconds.p50, 2)}/${fmt(f.survivorAgentsServingSeconds.p99, 2)}`,
      fmt(f.killedReplicaRestartSeconds, 1),
      fmt(f.killedReplicaAgentsServingAfterRestartSeconds?.max, 1),
      f.survivorLeaderAfterSeconds !== null &&
      f.survivorLeaderAfterSeconds <= options.leaseSeconds + 2 &&
      f.firstRolloutStepSeconds !== null &&
      f.firstRolloutStepSeconds <= options.leaseSeconds + 2
        ? 'met'
        : 'NOT met',
    ]),
  );
  if (failoverRows.length > 0) {
    console.log(
      `\nFailover: leader killed with SIGKILL, alias moved through the survivor at once (goal: <= ${options.leaseSeconds + 2} s)\n`,
    );
    console.log(
      renderTable(
        [
          '#',
          'killed -> survivor',
          'survivor leader s',
          'gauge',
          'first rollout step s',
          "survivor's agents all serving s",
          'p50/p99 s',
          'restart s',
          "killed one's agents serving after restart s",
          'goal',
        ],
        failoverRows,
      ),
    );
  }
}

function fileLimits() {
  const line = fs
    .readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const [soft, hard] = line.replace('Max open files', '').trim().split(/\s+/);
  return { soft: Number(soft), hard: Number(hard) };
}

// ---------------------------------------------------------------- main

async function main() {
  if (!fs.existsSync(path.join(ROOT, 'dist/cli/main.js'))) throw new Error('dist/ is missing: run npx tsc -p tsconfig.build.json first');
  const loadBefore = os.loadavg();
  const limits = fileLimits();
  say(
    `machine: ${os.cpus().length} CPUs, load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, open files limit ${limits.soft} (hard ${limits.hard})`,
  );
  if (limits.soft < options.agents * 2 + 256) {
    say(
      `warning: ${limits.soft} open files may be too few for ${options.agents} agents (each holds a long poll: 2 descriptors on loopback)`,
    );
  }
  const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'fogline-bench-replicas-'));
  cleanups.push(() => {
    if (options.keep) say(`kept ${tmpRoot}`);
    else fs.rmSync(tmpRoot, { recursive: true, force: true });
  });
  const signingKeyFile = makeSigningKey(path.join(tmpRoot, 'signing-key.pem'));
  const onnx = prepareOnnx(options.model, tmpRoot);
  say(`model: ${onnx.what}, ${fs.statSync(onnx.file).size} bytes of ONNX`);
  const scenarios = [];
  for (const replicaCount of options.replicas) scenarios.push(await runScenario(replicaCount, { tmpRoot, signingKeyFile, onnx }));
  printTables(scenarios);
  const results = {
    when: new Date().toISOString(),
    machine: { ...machineFacts(loadBefore), openFilesLimit: limits },
    options: { ...options, out: path.relative(ROOT, options.out) },
    model: { what: onnx.what, onnxBytes: fs.statSync(onnx.file).size },
    scenarios,
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
