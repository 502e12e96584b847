#!/usr/bin/env node
// bench/offload: what offloading buys an edge node that cannot keep up. A real control plane (the
// "cloud") and a real `fogline agent` (the "edge") with a deliberately constrained local capacity:
// --max-batch-size 1 and, where the machine allows it, a CPU quota of --edge-cpu cores (a cgroup v1
// cpu.cfs_quota_us, as a small board would have). One forecaster version is deployed three times
// on the agent — edge-only, auto (latency target --latency-target-ms) and cloud-only — and this
// process sends open-loop traffic (requests at a fixed rate, latency measured from the moment each
// was due, so a backlog shows) at multiples of the edge's own measured capacity, for each policy
// in turn, in one run. It prints goodput (answers within the latency target per second), p50/p99
// latency of the requests admitted, throughput, failures, requests shed (429) and the share that
// ran in the cloud, side by side.
//
//   npm run build && npm run bench:offload -- [--duration 4] [--rates 0.5,1,2,3,5] [--edge-cpu 0.1] [--hidden 1536,1536,1536] [--latency-target-ms 50]
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { forecastRequest, post, sleep, startCluster, trainForecaster, uploadPjme, waitFor } from '../lib/cluster.js';
import { fmt, renderTable, summarizeLatencies } from '../fleet/lib/stats.js';

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '4' },
    rates: { type: 'string', default: '0.5,1,2,3,5' },
    'edge-cpu': { type: 'string', default: '0.1' },
    'latency-target-ms': { type: 'string', default: '50' },
    policies: { type: 'string', default: 'edge-only,auto,cloud-only' },
    'timeout-ms': { type: 'string', default: '10000' },
    hidden: { type: 'string', default: '1536,1536,1536' },
    'predictor-isolation': { type: 'string', default: 'in-process' },
    json: { type: 'string' },
  },
});
const DURATION_MS = Number(flags.duration) * 1000;
const TARGET_MS = Number(flags['latency-target-ms']);
const TIMEOUT_MS = Number(flags['timeout-ms']);
const POLICIES = flags.policies.split(',');
const WINDOW = 168;
/** Open-loop traffic must not queue in the client: plenty of sockets. */
const pool = new http.Agent({ keepAlive: true, maxSockets: 512 });

const cluster = await startCluster({ tag: 'offload', intervalSeconds: 2 });
const cgroup = makeCpuCgroup(Number(flags['edge-cpu']));
try {
  // A wide forecaster, so that predicting (what the micro-batcher queues for) is most of a request's cost.
  const hidden = flags.hidden.split(',').map(Number);
  console.log(`[offload] training a forecaster (168-hour window, hidden ${hidden.join('-')}, 1 epoch) on PJM East …`);
  await uploadPjme(cluster.api);
  const version = await trainForecaster(cluster.apiJson, {
    params: { window: WINDOW, epochs: 1, hidden, batchSize: 256, testFraction: 0.9, seed: 1 },
  });
  const { body } = await forecastRequest(WINDOW);

  // --offload-cpu-load 0: the load average of this shared machine says nothing about the edge's own
  // quota; the queue (which does feel the quota) is what `auto` decides on here.
  const agent = await cluster.startAgent({
    name: 'edge-1',
    labels: 'bench=offload',
    joinToken: await cluster.joinToken(1),
    extraArgs: ['--max-batch-size', '1', '--offload-cpu-load', '0', '--predictor-isolation', flags['predictor-isolation']],
  });
  const capped = cgroup?.add(agent.pid) ?? false;
  console.log(
    capped
      ? `[offload] the agent runs under a CPU quota of ${flags['edge-cpu']} core (cgroup ${cgroup.dir})`
      : '[offload] no writable cgroup cpu controller here: the agent runs uncapped (max batch 1 only)',
  );
  const names = { 'edge-only': 'edge', auto: 'auto', 'cloud-only': 'cloud' };
  for (const policy of POLICIES) {
    await cluster.api('POST', '/api/v1/deployments', {
      name: names[policy],
      model: `energy@${version}`,
      nodeSelector: { bench: 'offload' },
      offload: policy,
      latencyTargetMs: TARGET_MS,
    });
  }
  const url = (policy) => `${agent.url}/v2/models/${names[policy]}/infer`;
  for (const policy of POLICIES) await waitFor(async () => (await send(url(policy), body)).ok, { what: `${policy} to serve` });
  // Every deployment warm (its own predictor on the node, the cloud's connection and model) before anything is measured.
  for (const policy of POLICIES) await closedLoop(url(policy), body, 1, 1000);

  // The edge's own capacity: closed loop, 4 at a time, on the edge-only deployment.
  await closedLoop(url('edge-only'), body, 4, 1000);
  const capacity = await closedLoop(url('edge-only'), body, 4, 3000);
  const cloudCapacity = await closedLoop(`${cluster.server.url}/v2/models/energy/versions/${version}/infer`, body, 4, 3000, cluster.auth);
  // What the node can pass to the cloud: every request it forwards costs its event loop too, so
  // at a small CPU quota forwarding, not the cloud, may be what limits the pair.
  const forwardCapacity = await closedLoop(url('cloud-only'), body, 32, 3000);
  const combined = combinedCapacity(capacity.rps, cloudCapacity.rps, forwardCapacity.rps);
  console.log(
    `[offload] edge capacity alone: ${fmt(capacity.rps, 0)} req/s (p50 ${fmt(capacity.p50, 2)} ms); the cloud's /v2 directly: ${fmt(cloudCapacity.rps, 0)} req/s; forwarded through the edge: ${fmt(forwardCapacity.rps, 0)} req/s; combined ${fmt(combined, 0)} req/s`,
  );

  const rows = [];
  const results = [];
  for (const multiple of flags.rates.split(',').map(Number)) {
    const rate = Math.max(1, Math.round(capacity.rps * multiple));
    for (const policy of POLICIES) {
      const result = await openLoop(url(policy), body, rate, DURATION_MS);
      results.push({ policy, multiple, rate, ...result });
      rows.push([
        `${multiple}x`,
        `${rate}${rate < combined ? '' : ' *'}`,
        policy,
        fmt(result.goodput, 0),
        fmt(result.throughput, 0),
        fmt(result.p50, 1),
        fmt(result.p99, 1),
        String(result.failed),
        String(result.shed),
        `${fmt(result.cloudShare * 100, 1)}%`,
        result.p99 <= TARGET_MS ? 'yes' : 'no',
      ]);
      // A cell that overloaded the edge leaves a backlog: requests whose clients timed out still sit in
      // the micro-batcher's queue (seconds of work at 5x). The next policy starts once a request to the
      // node's own model is answered promptly again, i.e. the queue in front of it is gone.
      await drain(url('edge-only'), body, capacity.p50);
    }
  }
  console.log(
    `\nOffloading under load: open-loop requests for ${DURATION_MS / 1000} s per cell, max batch 1${capped ? `, edge CPU quota ${flags['edge-cpu']} core` : ''}, latency target ${TARGET_MS} ms, client timeout ${TIMEOUT_MS} ms; ${os.cpus().length} CPUs, load average ${os.loadavg()[0].toFixed(2)}`,
  );
  console.log(
    `goodput: answers within ${TARGET_MS} ms per second; p50/p99 over the requests admitted (answered or failed; a failure counts as ${TIMEOUT_MS} ms), not those shed with 429; * past the combined capacity (${fmt(combined, 0)} req/s)\n`,
  );
  console.log(
    renderTable(
      [
        'load',
        'req/s sent',
        'policy',
        'goodput/s',
        'answered/s',
        'p50 ms',
        'p99 ms',
        'failed',
        'shed',
        'ran in cloud',
        `p99 <= ${TARGET_MS} ms`,
      ],
      rows,
      (i) => i !== 2,
    ),
  );
  console.log(`\n${verdicts(results).join('\n')}`);
  const metrics = await (await fetch(`${agent.url}/metrics`)).text();
  console.log('\nAgent counters (fogline_offload_requests_total):');
  for (const line of metrics.split('\n').filter((l) => l.startsWith('fogline_offload_requests_total'))) console.log(`  ${line}`);
  console.log('Time in the micro-batcher queue and computing, mean per request on the edge (fogline_inference_*_duration_seconds):');
  for (const name of Object.values(names)) {
    const mean = (metric) => {
      const sum = Number(new RegExp(`${metric}_sum\\{deployment="${name}"[^}]*\\} (\\S+)`).exec(metrics)?.[1]);
      const count = Number(new RegExp(`${metric}_count\\{deployment="${name}"[^}]*\\} (\\S+)`).exec(metrics)?.[1]);
      return fmt((sum / count) * 1000, 2);
    };
    console.log(
      `  ${name}: queue ${mean('fogline_inference_queue_duration_seconds')} ms, compute ${mean('fogline_inference_compute_duration_seconds')} ms`,
    );
  }
  if (flags.json)
    fs.writeFileSync(flags.json, JSON.stringify({ capacity, cloudCapacity, forwardCapacity, combined, capped, results }, null, 2));
} finally {
  await cluster.cleanup();
  cgroup?.remove();
}

/**
 * The most the edge and the cloud answer together: forwarding all of it, unless the cloud takes
 * less than the node can forward; then the cloud's share plus what the node's loop has left for its
 * own model (each forwarded request costs 1/forward of the loop).
 */
function combinedCapacity(edge, cloud, forward) {
  if (cloud >= forward) return Math.max(forward, edge);
  return Math.max(edge, cloud + edge * (1 - cloud / forward));
}

/** Waits until the edge-only deployment answers within 3x its unloaded p50 three times in a row (at most 120 s). */
async function drain(edgeUrl, body, p50) {
  const deadline = Date.now() + 120_000;
  let prompt = 0;
  while (prompt < 3 && Date.now() < deadline) {
    const answer = await send(edgeUrl, body);
    prompt = answer.ok && answer.ms <= Math.max(20, 3 * p50) ? prompt + 1 : 0;
    await sleep(100);
  }
}

/** One request: { ok, shed, ms, ranOn }; `shed` when the agent answered 429 (refused at once, not run). Never throws. */
async function send(url, body, headers = {}) {
  const started = performance.now();
  try {
    const text = await post(url, body, { headers, read: true, timeoutMs: TIMEOUT_MS, agent: pool });
    return { ok: true, ms: performance.now() - started, ranOn: /"fogline\.ran_on":"(edge|cloud)"/.exec(text)?.[1] };
  } catch (error) {
    return { ok: false, shed: /answered 429/.test(String(error?.message)), ms: performance.now() - started };
  }
}

/**
 * Per load, `auto` against the better fixed policy: goodput at least the better one's, p99 at
 * most the better one's, p99 within the target below the combined capacity, no failures.
 */
function verdicts(results) {
  const lines = ['auto against the better of edge-only and cloud-only, per load:'];
  for (const multiple of [...new Set(results.map((r) => r.multiple))]) {
    const cell = (policy) => results.find((r) => r.multiple === multiple && r.policy === policy);
    const [auto, edge, cloud] = [cell('auto'), cell('edge-only'), cell('cloud-only')];
    if (!auto || !edge || !cloud) continue;
    const bestGoodput = Math.max(edge.goodput, cloud.goodput);
    const bestP99 = Math.min(edge.p99, cloud.p99);
    lines.push(
      `  ${multiple}x: goodput ${fmt(auto.goodput, 0)} vs ${fmt(bestGoodput, 0)} (${auto.goodput >= bestGoodput ? 'met' : 'missed'}), p99 ${fmt(auto.p99, 1)} vs ${fmt(bestP99, 1)} ms (${auto.p99 <= bestP99 ? 'met' : 'missed'}), failed ${auto.failed}, shed ${auto.shed}`,
    );
  }
  return lines;
}

/** `concurrency` loops back to back for `ms`: requests per second and latency. */
async function closedLoop(url, body, concurrency, ms, headers) {
  const latencies = [];
  const deadline = performance.now() + ms;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const result = await send(url, body, headers);
        if (result.ok) latencies.push(result.ms);
      }
    }),
  );
  return { rps: latencies.length / ((performance.now() - started) / 1000), ...summarizeLatencies(latencies) };
}

/**
 * Requests at `rate` per second for `ms`, whatever the answers do (open loop). Latency counts from
 * when a request was due, so time spent behind a backlog is in it.
 */
async function openLoop(url, body, rate, ms) {
  const outcomes = [];
  const pending = [];
  const started = performance.now();
  let sent = 0;
  for (;;) {
    const elapsed = performance.now() - started;
    if (elapsed >= ms) break;
    const due = Math.min(Math.floor((elapsed / 1000) * rate) + 1, Math.ceil((ms / 1000) * rate));
    for (; sent < due; sent++) {
      const dueAt = started + (sent * 1000) / rate;
      pending.push(send(url, body).then((r) => outcomes.push({ ...r, ms: performance.now() - dueAt })));
    }
    await sleep(1);
  }
  await Promise.all(pending);
  const wall = (performance.now() - started) / 1000;
  const ok = outcomes.filter((o) => o.ok);
  const admitted = outcomes.filter((o) => !o.shed);
  // Failed requests count as the timeout in the latency percentiles (they never answered in time).
  const latencies = admitted.map((o) => (o.ok ? o.ms : Math.max(o.ms, TIMEOUT_MS)));
  return {
    sent: outcomes.length,
    failed: admitted.length - ok.length,
    shed: outcomes.length - admitted.length,
    successRate: ok.length / outcomes.length,
    throughput: ok.length / wall,
    goodput: ok.filter((o) => o.ms <= TARGET_MS).length / wall,
    cloudShare: ok.filter((o) => o.ranOn === 'cloud').length / Math.max(1, ok.length),
    ...summarizeLatencies(latencies),
  };
}

/** A cgroup v1 cpu group with `cores` worth of quota, or undefined where none can be made. */
function makeCpuCgroup(cores) {
  const root = '/sys/fs/cgroup/cpu';
  if (!(cores > 0) || !fs.existsSync(`${root}/cpu.cfs_quota_us`)) return undefined;
  const dir = `${root}/fogline-bench-offload-${process.pid}`;
  try {
    fs.mkdirSync(dir);
    // A short period (5 ms): a slower CPU, not one that stops for most of every 100 ms.
    fs.writeFileSync(`${dir}/cpu.cfs_period_us`, '5000');
    fs.writeFileSync(`${dir}/cpu.cfs_quota_us`, String(Math.max(1000, Math.round(cores * 5000))));
  } catch {
    return undefined;
  }
  return {
    dir,
    add(pid) {
      try {
        fs.writeFileSync(`${dir}/cgroup.procs`, String(pid));
        return true;
      } catch {
        return false;
      }
    },
    remove() {
      try {
        fs.rmdirSync(dir);
      } catch {
        // still has a process (it exits shortly) or is gone
      }
    },
  };
}
