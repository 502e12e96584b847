#!/usr/bin/env node
// bench/soak: memory and latency over time. A real control plane and three real `fogline agent`
// processes on loopback; three small forecaster versions are trained and `energy@champion` is
// deployed (strategy all) to the agents; then a steady, paced V2 request load runs against every
// agent for --minutes while the `champion` alias moves to the next version every --move-every
// seconds. The RSS of every child process (VmRSS in /proc/<pid>/status) is sampled every
// --sample-every seconds. Reports RSS per process (first, last, max, least-squares slope in
// MiB/min, over the whole run and after the first minute), failed requests and per-minute latency.
//
//   npm run build && npm run bench:soak -- [--minutes 10] [--move-every 30] [--rate 50] [--sample-every 10]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { processRssBytes } from '../fleet/lib/proc-stats.js';
import { fmt, renderTable, round, summarizeLatencies } from '../fleet/lib/stats.js';
import { deployChampion, forecastRequest, machineFacts, inferVersion, sleep, slope, startCluster, waitFor } from '../lib/cluster.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const { values: flags } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    'move-every': { type: 'string', default: '30' },
    'sample-every': { type: 'string', default: '10' },
    rate: { type: 'string', default: '50' },
    'max-in-flight': { type: 'string', default: '4' },
    agents: { type: 'string', default: '3' },
    epochs: { type: 'string', default: '1' },
    hidden: { type: 'string', default: '32' },
    window: { type: 'string', default: '168' },
    out: { type: 'string', default: path.join(HERE, 'results/latest.json') },
  },
});
const DURATION_MS = Number(flags.minutes) * 60_000;
const MOVE_EVERY_MS = Number(flags['move-every']) * 1000;
const SAMPLE_EVERY_MS = Number(flags['sample-every']) * 1000;
const RATE = Number(flags.rate);
const MAX_IN_FLIGHT = Number(flags['max-in-flight']);
const AGENTS = Number(flags.agents);
const WINDOW = Number(flags.window);
const MiB = 1024 * 1024;
const log = (message) => console.log(`[soak] ${message}`);

const loadBefore = os.loadavg();
const cluster = await startCluster({ tag: 'soak', intervalSeconds: 15 });
const { api, server } = cluster;
let stop = true;
const background = [];
try {
  log(`training 3 forecaster versions (window ${WINDOW}, hidden [${flags.hidden}], ${flags.epochs} epoch) on PJM East …`);
  const { versions, agents } = await deployChampion(cluster, {
    tag: 'soak',
    agents: AGENTS,
    window: WINDOW,
    epochs: Number(flags.epochs),
    hidden: Number(flags.hidden),
  });
  const { body } = await forecastRequest(WINDOW);
  const inferUrls = agents.map((a) => `${a.url}/v2/models/energy/infer`);
  for (const url of inferUrls) {
    await waitFor(async () => (await inferVersion(url, body)) === String(versions[0]), { what: `${url} to serve version ${versions[0]}` });
  }
  const processes = [
    { name: 'control plane', pid: server.pid, handle: server, metrics: `${server.url}/metrics` },
    ...agents.map((a) => ({ name: a.name, pid: a.pid, handle: a, metrics: `${a.url}/metrics` })),
  ];
  log(
    `${AGENTS} agents serve energy@${versions[0]}; ${RATE} requests/s per agent (at most ${MAX_IN_FLIGHT} in flight) for ${flags.minutes} min, ` +
      `alias move every ${flags['move-every']} s, RSS sampled every ${flags['sample-every']} s …`,
  );

  const t0 = performance.now();
  const elapsed = () => performance.now() - t0;
  const minutes = []; // per minute of the run: { latencies: [], failed, skipped }
  const bucket = (ms) => (minutes[Math.floor(ms / 60_000)] ??= { latencies: [], failed: 0, skipped: 0 });
  const failures = [];
  let total = 0;
  let failed = 0;
  let skipped = 0;
  let move; // the alias move in progress: { target, at, firstAnswer[] }
  const moves = [];
  stop = false;

  // Paced load: each agent gets a request every 1000/RATE ms, unless MAX_IN_FLIGHT are still open
  // (then the slot is skipped and counted: the client does not queue up behind a slow agent).
  const pace = async (a) => {
    let inFlight = 0;
    let next = performance.now();
    const open = new Set();
    while (!stop) {
      next += 1000 / RATE;
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
      if (stop || performance.now() >= t0 + DURATION_MS) break;
      if (inFlight >= MAX_IN_FLIGHT) {
        skipped += 1;
        bucket(elapsed()).skipped += 1;
        continue;
      }
      inFlight += 1;
      const start = performance.now();
      const request = inferVersion(inferUrls[a], body, { timeoutMs: 10_000 }).then(
        (version) => {
          const end = performance.now();
          total += 1;
          bucket(start - t0).latencies.push(end - start);
          if (move && version === move.target && move.firstAnswer[a] === null) move.firstAnswer[a] = round(end - move.at, 1);
        },
        (error) => {
          total += 1;
          failed += 1;
          bucket(start - t0).failed += 1;
          if (failures.length < 20) failures.push(`${round((start - t0) / 1000, 1)} s ${agents[a].name}: ${error.message}`);
        },
      );
      open.add(request);
      request.finally(() => {
        inFlight -= 1;
        open.delete(request);
      });
    }
    await Promise.allSettled([...open]);
  };
  background.push(...agents.map((_, a) => pace(a)));

  // RSS samples, and a check that every process is still there.
  const samples = [];
  // Beside RSS, V8's used heap from each process's Prometheus /metrics (prom-client's default
  // nodejs_heap_size_used_bytes): RSS moves in steps when V8 gives pages back; the heap shows
  // whether live JS objects pile up.
  const sample = async () => {
    const row = { t: round(elapsed() / 60_000, 3), rssMiB: {}, heapUsedMiB: {} };
    for (const p of processes) {
      const rss = processRssBytes(p.pid);
      row.rssMiB[p.name] = rss === undefined ? null : round(rss / MiB, 1);
    }
    for (const p of processes) {
      try {
        const response = await fetch(p.metrics, { headers: cluster.auth, signal: AbortSignal.timeout(5000) });
        const match = /^nodejs_heap_size_used_bytes(?:\{[^}]*\})? (\S+)/m.exec(await response.text());
        row.heapUsedMiB[p.name] = match ? round(Number(match[1]) / MiB, 1) : null;
      } catch {
        row.heapUsedMiB[p.name] = null;
      }
    }
    samples.push(row);
    const gone = processes.map((p) => p.handle.unexpectedExit()).filter(Boolean);
    if (gone.length) throw new Error(gone.join('; '));
  };
  await sample();
  const end = t0 + DURATION_MS;
  let nextSample = t0 + SAMPLE_EVERY_MS;
  let nextMove = t0 + MOVE_EVERY_MS;
  let moveIndex = 0;
  while (performance.now() < end) {
    const now = performance.now();
    if (now >= nextMove) {
      nextMove += MOVE_EVERY_MS;
      if (move) moves.push(finishMove(move));
      moveIndex += 1;
      const target = versions[moveIndex % versions.length];
      await api('PUT', '/api/v1/models/energy/aliases/champion', { version: target });
      move = {
        index: moveIndex,
        target: String(target),
        atMin: round(elapsed() / 60_000, 2),
        at: performance.now(),
        firstAnswer: new Array(AGENTS).fill(null),
      };
    }
    if (now >= nextSample) {
      nextSample += SAMPLE_EVERY_MS;
      await sample();
      const last = samples[samples.length - 1];
      const seconds = Math.round(last.t * 60);
      log(
        `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}: ${total} requests, ${failed} failed; RSS ${Object.entries(
          last.rssMiB,
        )
          .map(([k, v]) => `${k} ${fmt(v, 0)}`)
          .join(', ')} MiB`,
      );
    }
    await sleep(Math.max(1, Math.min(nextMove, nextSample, end) - performance.now()));
  }
  await sample();
  if (move) moves.push(finishMove(move));
  stop = true;
  await Promise.all(background);
  const loadAfter = os.loadavg();

  // Memory: first / last / max and least-squares slopes, whole run and after the first minute.
  const memory = processes.map((p) => {
    const points = samples.filter((s) => s.rssMiB[p.name] !== null);
    const xs = points.map((s) => s.t);
    const ys = points.map((s) => s.rssMiB[p.name]);
    const late = points.filter((s) => s.t >= 1);
    const heap = samples.filter((s) => s.heapUsedMiB[p.name] !== null);
    const heapLate = heap.filter((s) => s.t >= 1);
    return {
      process: p.name,
      pid: p.pid,
      firstMiB: ys[0],
      lastMiB: ys[ys.length - 1],
      maxMiB: Math.max(...ys),
      slopeMiBPerMin: round(slope(xs, ys), 2),
      slopeAfterFirstMinuteMiBPerMin: round(
        slope(
          late.map((s) => s.t),
          late.map((s) => s.rssMiB[p.name]),
        ),
        2,
      ),
      heapUsedFirstMiB: heap[0]?.heapUsedMiB[p.name] ?? null,
      heapUsedLastMiB: heap[heap.length - 1]?.heapUsedMiB[p.name] ?? null,
      heapUsedSlopeAfterFirstMinuteMiBPerMin: round(
        slope(
          heapLate.map((s) => s.t),
          heapLate.map((s) => s.heapUsedMiB[p.name]),
        ),
        2,
      ),
    };
  });
  const perMinute = minutes.map((m, i) => {
    const s = summarizeLatencies(m?.latencies ?? []);
    return {
      minute: i + 1,
      requests: s.count,
      failed: m?.failed ?? 0,
      skipped: m?.skipped ?? 0,
      p50: round(s.p50, 2),
      p99: round(s.p99, 2),
      max: round(s.max, 2),
    };
  });
  // The last bucket may be a sliver (the run is not a whole number of minutes): compare whole minutes.
  const whole = perMinute.slice(0, Math.max(1, Math.floor(DURATION_MS / 60_000)));
  const firstMinute = whole[0];
  const lastMinute = whole[whole.length - 1];
  const firstAnswers = summarizeLatencies(moves.flatMap((m) => m.firstAnswerMs).filter((v) => v !== null));

  console.log(
    `\nSoak: ${flags.minutes} min, ${AGENTS} agents at ${RATE} requests/s each, alias move every ${flags['move-every']} s (${moves.length} moves); ` +
      `${os.cpus().length} CPUs, load average ${loadBefore[0].toFixed(2)} before / ${loadAfter[0].toFixed(2)} after\n`,
  );
  console.log(
    renderTable(
      [
        'process',
        'RSS first MiB',
        'last MiB',
        'max MiB',
        'slope MiB/min',
        'after 1st min',
        'heap used first/last MiB',
        'heap slope after 1st min',
      ],
      memory.map((m) => [
        m.process,
        fmt(m.firstMiB, 1),
        fmt(m.lastMiB, 1),
        fmt(m.maxMiB, 1),
        fmt(m.slopeMiBPerMin, 2),
        fmt(m.slopeAfterFirstMinuteMiBPerMin, 2),
        `${fmt(m.heapUsedFirstMiB, 1)} / ${fmt(m.heapUsedLastMiB, 1)}`,
        fmt(m.heapUsedSlopeAfterFirstMinuteMiBPerMin, 2),
      ]),
      (i) => i > 0,
    ),
  );
  console.log('');
  console.log(
    renderTable(
      ['minute', 'requests', 'failed', 'skipped', 'p50 ms', 'p99 ms', 'max ms'],
      perMinute.map((m) => [
        String(m.minute),
        String(m.requests),
        String(m.failed),
        String(m.skipped),
        fmt(m.p50, 1),
        fmt(m.p99, 1),
        fmt(m.max, 1),
      ]),
    ),
  );
  console.log(
    `\nrequests: ${total}, failed: ${failed}, skipped (client at ${MAX_IN_FLIGHT} in flight): ${skipped}; ` +
      `alias move -> first answer per agent: p50 ${fmt(firstAnswers.p50, 0)} ms, p99 ${fmt(firstAnswers.p99, 0)} ms over ${firstAnswers.count}`,
  );
  if (failures.length) console.log(`first failures:\n  ${failures.join('\n  ')}`);
  console.log(
    `p99 latency: first minute ${fmt(firstMinute.p99, 1)} ms, last whole minute (${lastMinute.minute}) ${fmt(lastMinute.p99, 1)} ms`,
  );
  console.log(`Goal: 0 failed requests: ${failed === 0 ? 'met' : 'NOT met'}`);

  const result = {
    bench: 'soak',
    at: new Date().toISOString(),
    machine: machineFacts(loadBefore, loadAfter),
    config: {
      minutes: Number(flags.minutes),
      agents: AGENTS,
      ratePerAgent: RATE,
      maxInFlightPerAgent: MAX_IN_FLIGHT,
      moveEverySeconds: Number(flags['move-every']),
      sampleEverySeconds: Number(flags['sample-every']),
      window: WINDOW,
      epochs: Number(flags.epochs),
      hidden: [Number(flags.hidden)],
      versions,
    },
    requests: { total, failed, skipped, firstFailures: failures },
    latency: { firstMinute, lastMinute, perMinute },
    memory,
    rssSamples: samples,
    moves,
    firstAnswerAfterMove: {
      count: firstAnswers.count,
      p50: round(firstAnswers.p50),
      p99: round(firstAnswers.p99),
      max: round(firstAnswers.max),
    },
    goals: { noFailedRequests: failed === 0 },
  };
  fs.mkdirSync(path.dirname(flags.out), { recursive: true });
  fs.writeFileSync(flags.out, `${JSON.stringify(result, null, 2)}\n`);
  log(`wrote ${path.relative(process.cwd(), flags.out)}`);
  if (failed) process.exitCode = 1;
} finally {
  stop = true;
  await Promise.allSettled(background);
  await cluster.cleanup();
}

function finishMove(m) {
  return { move: m.index, toVersion: Number(m.target), atMin: m.atMin, firstAnswerMs: m.firstAnswer };
}
