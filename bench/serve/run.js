#!/usr/bin/env node
// bench/serve: Open Inference Protocol serving throughput and latency of the default forecaster
// architecture (600-point window, seed 002's request size) on an AGENT beside a bare in-process
// predict loop on the same machine, measured in one run. The agent is a real `fogline agent`
// process (started from bin/, with --max-batch-size as given) enrolled in a real control plane;
// the model is trained there, deployed to the agent, and this process posts to the agent's
// /v2/models/energy/infer over keep-alive HTTP. The control plane's /v2 is measured too, for
// comparison (--cloud no to skip).
//
//   npm run build && node bench/serve/run.js [--duration 10] [--epochs 3] [--concurrency 1,4,8] [--max-batch-size 8]
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { startServer } from '../fleet/lib/server.js';
import { fmt, renderTable, summarizeLatencies } from '../fleet/lib/stats.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { loadBundle } = await import(path.join(ROOT, 'dist/ml/bundle/load-bundle.js'));
const { parseTimeSeriesCsv } = await import(path.join(ROOT, 'dist/ml/timeseries/ingest.js'));

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    epochs: { type: 'string', default: '3' },
    window: { type: 'string', default: '600' },
    concurrency: { type: 'string', default: '1,4,8' },
    'max-batch-size': { type: 'string', default: '8' },
    'max-batch-delay-ms': { type: 'string', default: '0' },
    cloud: { type: 'string', default: 'yes' },
  },
});
const DURATION_MS = Number(flags.duration) * 1000;
const WINDOW = Number(flags.window);
const CSV = path.join(ROOT, 'data/energy/PJME_hourly_trimmed.csv');

/** A plain keep-alive HTTP client: Node's fetch costs about a millisecond per call by itself. */
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fogline-bench-serve-'));
const server = await startServer({ dataDir, dbUrl: `sqlite:${path.join(dataDir, 'fogline.db')}`, intervalSeconds: 15 });
const auth = { authorization: `Bearer ${server.adminToken}` };
let agentProcess;
const api = async (method, url, body, headers = {}) => {
  const response = await fetch(`${server.url}${url}`, { method, headers: { ...auth, ...headers }, body });
  if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${await response.text()}`);
  return response;
};

try {
  console.log(`[serve] training the forecaster (window ${WINDOW}, default layers, ${flags.epochs} epochs) on PJM East …`);
  await api('POST', '/api/v1/datasets/pjme/versions?timeColumn=Datetime&valueColumn=PJME_MW', fs.readFileSync(CSV), {
    'content-type': 'text/csv',
  });
  const run = await (
    await api(
      'POST',
      '/api/v1/runs',
      JSON.stringify({
        pipeline: 'forecast',
        dataset: 'pjme',
        model: 'energy',
        gate: 'none',
        params: { window: WINDOW, epochs: Number(flags.epochs) },
      }),
      { 'content-type': 'application/json' },
    )
  ).json();
  let view;
  do {
    await new Promise((resolve) => setTimeout(resolve, 500));
    view = await (await api('GET', `/api/v1/runs/${run.id}`)).json();
  } while (view.status === 'queued' || view.status === 'running');
  if (view.status !== 'succeeded') throw new Error(`training failed: ${view.error}`);

  const series = parseTimeSeriesCsv(fs.readFileSync(CSV, 'utf8'), { timeColumn: 'Datetime', valueColumn: 'PJME_MW' });
  const history = Array.from(series.values.subarray(series.values.length - WINDOW));
  const startTime = series.start + series.values.length * series.intervalSeconds;
  const inputs = [
    { name: 'history', shape: [1, WINDOW], datatype: 'FP32', data: history },
    { name: 'start_time', shape: [1], datatype: 'INT64', data: [startTime] },
  ];
  const body = JSON.stringify({ inputs });

  // The bare loop: the same bundle, loaded in this process, predict() called back to back.
  const bundle = Buffer.from(await (await api('GET', '/api/v1/models/energy/versions/1/artifact')).arrayBuffer());
  const predictor = await loadBundle(bundle);
  const bare = await measure(1, async () => predictor.predict(inputs));
  predictor.dispose();

  // A real agent process, enrolled with a join token, serving the model through a deployment.
  const { token: joinToken } = await (
    await api('POST', '/api/v1/tokens', JSON.stringify({ name: 'bench join', role: 'join', maxUses: 1 }), {
      'content-type': 'application/json',
    })
  ).json();
  const agentDir = path.join(dataDir, 'agent');
  const agentArgs = ['agent', '--server', server.url, '--name', 'bench-agent', '--labels', 'bench=serve', '--data-dir', agentDir];
  agentArgs.push('--port', '0', '--log-level', 'warn', '--join-token', joinToken);
  agentArgs.push('--max-batch-size', flags['max-batch-size'], '--max-batch-delay-ms', flags['max-batch-delay-ms']);
  agentProcess = spawn(process.execPath, [path.join(ROOT, 'bin/fogline.js'), ...agentArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  const agentUrl = await new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`the agent did not start:\n${output}`)), 60_000);
    const onData = (chunk) => {
      output += chunk;
      const match = output.match(/serving on (http:\/\/\S+)/);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    agentProcess.stdout.on('data', onData);
    agentProcess.stderr.on('data', onData);
  });
  await api('POST', '/api/v1/deployments', JSON.stringify({ name: 'energy', model: 'energy@1', nodeSelector: { bench: 'serve' } }), {
    'content-type': 'application/json',
  });
  for (let tries = 0; ; tries++) {
    if (
      await post(`${agentUrl}/v2/models/energy/infer`, body).then(
        () => true,
        () => false,
      )
    )
      break;
    if (tries > 600) throw new Error('the agent never served the deployment');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  const rows = [row('in-process predict() loop', 1, bare, bare)];
  for (const concurrency of flags.concurrency.split(',').map(Number)) {
    const endpoint = await measure(concurrency, () => post(`${agentUrl}/v2/models/energy/infer`, body));
    rows.push(row(`agent POST /v2/…/infer (max batch ${flags['max-batch-size']})`, concurrency, endpoint, bare));
  }
  if (flags.cloud === 'yes') {
    for (const concurrency of flags.concurrency.split(',').map(Number)) {
      const endpoint = await measure(concurrency, () => post(`${server.url}/v2/models/energy/infer`, body));
      rows.push(row('control plane POST /v2/…/infer', concurrency, endpoint, bare));
    }
  }
  console.log(
    `\nOpen Inference Protocol serving, batch 1, ${WINDOW}-point window, ${DURATION_MS / 1000} s each; ${os.cpus().length} CPUs, load average ${os.loadavg()[0].toFixed(2)}\n`,
  );
  console.log(renderTable(['path', 'concurrency', 'requests/s', 'p50 ms', 'p99 ms', 'errors', 'vs bare loop'], rows, (i) => i > 0));
  const agentRows = rows.filter((r) => r[0].startsWith('agent'));
  const best = agentRows.reduce((a, b) => (Number(b[2]) > Number(a[2]) ? b : a));
  const p50 = Number(rows[1][3]);
  console.log(
    `\nGoal: agent endpoint throughput >= 80% of the bare loop: best ${best[6]} at concurrency ${best[1]} (${Number(best[2]) >= 0.8 * Number(rows[0][2]) ? 'met' : 'NOT met'})`,
  );
  console.log(`Goal: p50 < 5 ms: ${p50} ms at concurrency 1 (${p50 < 5 ? 'met' : 'NOT met'})`);
} finally {
  agentProcess?.kill('SIGTERM');
  await server.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
}

function post(url, body) {
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      { method: 'POST', agent, headers: { ...auth, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (response) => {
        response.resume();
        response.on('end', () => (response.statusCode === 200 ? resolve() : reject(new Error(`infer answered ${response.statusCode}`))));
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

/** Calls `call` from `concurrency` loops for DURATION_MS (after a short warm-up); latencies in ms. */
async function measure(concurrency, call) {
  for (let i = 0; i < 50; i++) await call();
  const latencies = [];
  let errors = 0;
  const started = performance.now();
  const deadline = started + DURATION_MS;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        try {
          await call();
          latencies.push(performance.now() - t0);
        } catch {
          errors += 1;
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { rps: latencies.length / seconds, errors, ...summarizeLatencies(latencies) };
}

function row(label, concurrency, result, bare) {
  return [
    label,
    String(concurrency),
    fmt(result.rps, 0),
    fmt(result.p50, 3),
    fmt(result.p99, 3),
    String(result.errors),
    `${fmt((result.rps / bare.rps) * 100, 0)}%`,
  ];
}
