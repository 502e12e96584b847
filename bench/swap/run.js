#!/usr/bin/env node
// bench/swap: hot swap under load. A real control plane and two real `fogline agent` processes on
// loopback; three small forecaster versions are trained, `energy@champion` is deployed with
// strategy all to both agents, and while concurrent V2 request loops run against both agents the
// `champion` alias is moved --switches times between the versions (the first moves to versions
// whose artifacts the agents have not cached yet). Measures failed requests, for each switch the
// time from the alias move (PUT returned) to every node reported serving the new version (polling
// GET /api/v1/deployments/energy every --poll-ms) and to the first answer from the new version on
// each agent, and request latency in steady state vs during the switching window.
//
//   npm run build && npm run bench:swap -- [--switches 10] [--concurrency 2] [--steady 10] [--hold 1000]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { deployChampion, forecastRequest, machineFacts, inferVersion, sleep, startCluster, waitFor } from '../lib/cluster.js';
import { fmt, renderTable, round, summarizeLatencies } from '../fleet/lib/stats.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const { values: flags } = parseArgs({
  options: {
    switches: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '3' },
    steady: { type: 'string', default: '10' },
    hold: { type: 'string', default: '1000' },
    'poll-ms': { type: 'string', default: '20' },
    epochs: { type: 'string', default: '1' },
    hidden: { type: 'string', default: '32' },
    window: { type: 'string', default: '168' },
    'switch-timeout': { type: 'string', default: '30' },
    out: { type: 'string', default: path.join(HERE, 'results/latest.json') },
  },
});
const SWITCHES = Number(flags.switches);
const CONCURRENCY = Number(flags.concurrency);
const WINDOW = Number(flags.window);
const POLL_MS = Number(flags['poll-ms']);
const AGENTS = 2;
const log = (message) => console.log(`[swap] ${message}`);

const loadBefore = os.loadavg();
const cluster = await startCluster({ tag: 'swap', intervalSeconds: 15 });
const { api, apiJson } = cluster;
let stopLoad = true;
let loops = [];
try {
  log(`training 3 forecaster versions (window ${WINDOW}, hidden [${flags.hidden}], ${flags.epochs} epoch) on PJM East …`);
  const { versions, agents } = await deployChampion(cluster, {
    tag: 'swap',
    agents: AGENTS,
    window: WINDOW,
    epochs: Number(flags.epochs),
    hidden: Number(flags.hidden),
  });
  const artifactBytes = [];
  for (const v of versions) artifactBytes.push((await apiJson('GET', `/api/v1/models/energy/versions/${v}`)).artifact.sizeBytes);
  const { body } = await forecastRequest(WINDOW);
  const inferUrls = agents.map((a) => `${a.url}/v2/models/energy/infer`);
  for (const url of inferUrls) {
    await waitFor(async () => (await inferVersion(url, body)) === String(versions[0]), { what: `${url} to serve version ${versions[0]}` });
  }
  await waitFor(async () => allServing(await apiJson('GET', '/api/v1/deployments/energy'), versions[0]), { what: 'both nodes serving' });
  log(
    `both agents serve energy@${versions[0]}; ${CONCURRENCY} request loop(s) per agent: ${flags.warmup} s warm-up (not counted), ${flags.steady} s of steady state …`,
  );

  // The load: CONCURRENCY closed loops per agent, each request recorded (start, latency, agent).
  const t0 = performance.now();
  const requests = []; // [startMs, latencyMs, agentIndex, ok]
  const failures = [];
  let current; // the switch in progress: { target, putDoneAt, firstAnswer[], convergedAt }
  let staleAfterConverged = 0;
  stopLoad = false;
  const loop = async (a) => {
    while (!stopLoad) {
      const start = performance.now();
      try {
        const version = await inferVersion(inferUrls[a], body, { timeoutMs: 10_000 });
        const end = performance.now();
        requests.push([start - t0, end - start, a, true]);
        if (current && version === current.target && current.firstAnswer[a] === null) current.firstAnswer[a] = end;
        if (current && version !== current.target && current.convergedAt !== null && start > current.convergedAt) staleAfterConverged += 1;
      } catch (error) {
        requests.push([start - t0, performance.now() - start, a, false]);
        if (failures.length < 20) failures.push(`${agents[a].name}: ${error.message}`);
      }
    }
  };
  loops = Array.from({ length: AGENTS * CONCURRENCY }, (_, i) => loop(i % AGENTS));
  await sleep(Number(flags.warmup) * 1000);
  const steadyStart = performance.now() - t0;
  await sleep(Number(flags.steady) * 1000);

  const switches = [];
  const switchingStart = performance.now() - t0;
  for (let s = 0; s < SWITCHES; s++) {
    const target = versions[(s + 1) % versions.length];
    const cached = s + 1 >= versions.length;
    const putStart = performance.now();
    await api('PUT', '/api/v1/models/energy/aliases/champion', { version: target });
    const putDoneAt = performance.now();
    current = { target: String(target), putDoneAt, firstAnswer: new Array(AGENTS).fill(null), convergedAt: null };
    const nodeServing = {};
    const deadline = putDoneAt + Number(flags['switch-timeout']) * 1000;
    let polls = 0;
    while (performance.now() < deadline) {
      const view = await apiJson('GET', '/api/v1/deployments/energy');
      const seenAt = performance.now();
      polls += 1;
      for (const node of view.nodes) {
        if (node.state === 'serving' && node.version === target && nodeServing[node.nodeName ?? node.nodeId] === undefined) {
          nodeServing[node.nodeName ?? node.nodeId] = seenAt - putDoneAt;
        }
      }
      if (allServing(view, target)) {
        current.convergedAt = seenAt;
        break;
      }
      await sleep(POLL_MS);
    }
    // Every agent's first answer from the new version (the loops are still running).
    while (current.firstAnswer.some((t) => t === null) && performance.now() < deadline) await sleep(5);
    const record = {
      switch: s + 1,
      toVersion: target,
      artifactCached: cached,
      putMs: round(putDoneAt - putStart, 1),
      allServingMs: current.convergedAt === null ? null : round(current.convergedAt - putDoneAt, 1),
      nodeServingMs: Object.fromEntries(Object.entries(nodeServing).map(([k, v]) => [k, round(v, 1)])),
      firstAnswerMs: current.firstAnswer.map((t) => (t === null ? null : round(t - putDoneAt, 1))),
      statusPolls: polls,
    };
    switches.push(record);
    log(
      `switch ${record.switch} -> v${target}${cached ? '' : ' (not cached)'}: all nodes serving after ${fmt(record.allServingMs, 0)} ms, ` +
        `first answers ${record.firstAnswerMs.map((v) => `${fmt(v, 0)} ms`).join(' / ')}`,
    );
    await sleep(Number(flags.hold));
  }
  const switchingEnd = performance.now() - t0;
  stopLoad = true;
  await Promise.all(loops);
  const loadAfter = os.loadavg();

  // Summaries.
  const inWindow = (from, to) => requests.filter((r) => r[3] && r[0] >= from && r[0] < to).map((r) => r[1]);
  const steady = summarizeLatencies(inWindow(steadyStart, switchingStart));
  const during = summarizeLatencies(inWindow(switchingStart, switchingEnd));
  const steadySeconds = (switchingStart - steadyStart) / 1000;
  const duringSeconds = (switchingEnd - switchingStart) / 1000;
  const converge = summarizeLatencies(switches.map((s) => s.allServingMs).filter((v) => v !== null));
  const firstAnswers = summarizeLatencies(switches.flatMap((s) => s.firstAnswerMs).filter((v) => v !== null));
  const uncached = switches.filter((s) => !s.artifactCached);
  const cachedOnes = switches.filter((s) => s.artifactCached);
  const failed = requests.filter((r) => !r[3]).length;
  const timedOutSwitches = switches.filter((s) => s.allServingMs === null || s.firstAnswerMs.includes(null)).length;

  console.log(
    `\nHot swap under load: ${AGENTS} agents, ${CONCURRENCY} loop(s) each, ${WINDOW}-point window, ${SWITCHES} alias moves, ` +
      `bundles of ${artifactBytes.map((b) => fmt(b / 1024, 0)).join('/')} KiB; ` +
      `${os.cpus().length} CPUs, load average ${loadBefore[0].toFixed(2)} before / ${loadAfter[0].toFixed(2)} after\n`,
  );
  console.log(
    renderTable(
      ['switch', 'to', 'cached', 'PUT ms', 'all nodes serving ms', ...agents.map((a) => `first answer ${a.name} ms`)],
      switches.map((s) => [
        String(s.switch),
        `v${s.toVersion}`,
        s.artifactCached ? 'yes' : 'no',
        fmt(s.putMs, 0),
        fmt(s.allServingMs, 0),
        ...s.firstAnswerMs.map((v) => fmt(v, 0)),
      ]),
    ),
  );
  console.log('');
  console.log(
    renderTable(
      ['measure', 'n', 'p50 ms', 'p99 ms', 'max ms'],
      [
        ['alias move -> all nodes serving (status)', converge],
        ['  of which artifact not cached', summarizeLatencies(uncached.map((s) => s.allServingMs).filter((v) => v !== null))],
        ['  of which artifact cached', summarizeLatencies(cachedOnes.map((s) => s.allServingMs).filter((v) => v !== null))],
        ['alias move -> first answer, per agent', firstAnswers],
        ['request latency, steady state', steady],
        ['request latency, switching window', during],
      ].map(([label, s]) => [label, String(s.count), fmt(s.p50, 1), fmt(s.p99, 1), fmt(s.max, 1)]),
      (i) => i > 0,
    ),
  );
  console.log(
    `\nrequests: ${requests.length} (${fmt(steady.count / steadySeconds, 0)}/s steady, ${fmt(during.count / duringSeconds, 0)}/s while switching), ` +
      `failed: ${failed}; answers from the old version to requests sent after the status said all serving: ${staleAfterConverged}`,
  );
  if (failures.length) console.log(`first failures:\n  ${failures.join('\n  ')}`);
  console.log(`Goal: 0 failed requests: ${failed === 0 ? 'met' : 'NOT met'}`);
  console.log(
    `Goal: p99 alias move -> all nodes serving < 2 s: ${fmt(converge.p99, 0)} ms (${converge.p99 < 2000 && !timedOutSwitches ? 'met' : 'NOT met'}); ` +
      `p99 to first answer: ${fmt(firstAnswers.p99, 0)} ms (${firstAnswers.p99 < 2000 && !timedOutSwitches ? 'met' : 'NOT met'})`,
  );
  if (SWITCHES < 100) console.log(`(nearest rank: with ${SWITCHES} switches, under 100, the p99 is the worst switch)`);

  const summary = (s) => ({ count: s.count, p50: round(s.p50, 2), p99: round(s.p99, 2), max: round(s.max, 2), mean: round(s.mean, 2) });
  const result = {
    bench: 'swap',
    at: new Date().toISOString(),
    machine: machineFacts(loadBefore, loadAfter),
    config: {
      agents: AGENTS,
      concurrencyPerAgent: CONCURRENCY,
      switches: SWITCHES,
      warmupSeconds: Number(flags.warmup),
      steadySeconds: Number(flags.steady),
      holdMs: Number(flags.hold),
      pollMs: POLL_MS,
      window: WINDOW,
      epochs: Number(flags.epochs),
      hidden: [Number(flags.hidden)],
      strategy: 'all',
      versions,
      artifactBytes,
    },
    requests: {
      total: requests.length,
      warmup: requests.filter((r) => r[0] < steadyStart).length,
      failed,
      firstFailures: failures,
      staleAfterAllServing: staleAfterConverged,
    },
    switches,
    switchTimes: {
      allServing: summary(converge),
      allServingUncached: summary(summarizeLatencies(uncached.map((s) => s.allServingMs).filter((v) => v !== null))),
      allServingCached: summary(summarizeLatencies(cachedOnes.map((s) => s.allServingMs).filter((v) => v !== null))),
      firstAnswer: summary(firstAnswers),
      timedOut: timedOutSwitches,
    },
    latency: {
      steady: { ...summary(steady), seconds: round(steadySeconds, 1), perSecond: round(steady.count / steadySeconds, 1) },
      switching: { ...summary(during), seconds: round(duringSeconds, 1), perSecond: round(during.count / duringSeconds, 1) },
    },
    goals: { noFailedRequests: failed === 0, switchP99Under2s: converge.p99 < 2000 && firstAnswers.p99 < 2000 && !timedOutSwitches },
  };
  fs.mkdirSync(path.dirname(flags.out), { recursive: true });
  fs.writeFileSync(flags.out, `${JSON.stringify(result, null, 2)}\n`);
  log(`wrote ${path.relative(process.cwd(), flags.out)}`);
  if (failed) process.exitCode = 1;
} finally {
  stopLoad = true;
  await Promise.allSettled(loops);
  await cluster.cleanup();
}

function allServing(view, version) {
  return view.nodes.length === AGENTS && view.nodes.every((n) => n.state === 'serving' && n.version === version);
}
