// Shared helpers for the benches that run a real cluster on loopback: a control plane
// (`fogline server`, SQLite, child process; see bench/fleet/lib/server.js), `fogline agent` child
// processes enrolled with a join token, the admin API, forecaster training on the vendored PJM
// series, a keep-alive V2 client and a V2 request built from the series. Plain Node ESM; run from
// the built dist/ (`npm run build` first).
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { startServer, trackChild } from '../fleet/lib/server.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const FOGLINE_BIN = path.join(ROOT, 'bin/fogline.js');
export const PJME_CSV = path.join(ROOT, 'data/energy/PJME_hourly_trimmed.csv');

/** A plain keep-alive HTTP agent: Node's fetch costs about a millisecond per call by itself. */
export const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 64 });

export { sleep };

/**
 * Starts a control plane on SQLite in a fresh temp dir. Returns { server, dataDir, api, apiJson,
 * cleanup }: `api(method, url, body?, headers?)` throws on a non-2xx answer and returns the fetch
 * Response; a plain object body is sent as JSON. `cleanup()` stops every agent started through
 * startAgent(), then the server, and removes the temp dir.
 */
export async function startCluster({ tag, intervalSeconds = 15 }) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `fogline-bench-${tag}-`));
  const server = await startServer({ dataDir, dbUrl: `sqlite:${path.join(dataDir, 'fogline.db')}`, intervalSeconds });
  const auth = { authorization: `Bearer ${server.adminToken}` };
  const agents = [];
  const api = async (method, url, body, headers = {}) => {
    const json = body !== undefined && !(body instanceof Buffer) && typeof body !== 'string';
    const response = await fetch(`${server.url}${url}`, {
      method,
      headers: { ...auth, ...(json ? { 'content-type': 'application/json' } : {}), ...headers },
      body: json ? JSON.stringify(body) : body,
    });
    if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${await response.text()}`);
    return response;
  };
  const apiJson = async (method, url, body, headers) => (await api(method, url, body, headers)).json();
  const cluster = {
    server,
    dataDir,
    auth,
    api,
    apiJson,
    agents,
    /** A join token for `uses` nodes. */
    joinToken: async (uses = 1) =>
      (await apiJson('POST', '/api/v1/tokens', { name: `bench ${tag} join`, role: 'join', maxUses: uses })).token,
    startAgent: async (options) => {
      const started = await startAgent({ serverUrl: server.url, dataDir: path.join(dataDir, `agent-${options.name}`), ...options });
      agents.push(started);
      return started;
    },
    cleanup: async () => {
      await Promise.all(agents.map((a) => a.stop()));
      await server.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return cluster;
}

/**
 * Spawns `fogline agent` (port 0, log level warn) and waits for "serving on <url>". `nodeArgs` go
 * to node before the script (e.g. `--import` a probe), `env` is added to this process's. Returns
 * { child, pid, url, name, stop, unexpectedExit, output }.
 */
export async function startAgent({
  serverUrl,
  joinToken,
  name,
  labels,
  dataDir,
  extraArgs = [],
  nodeArgs = [],
  env = {},
  startTimeoutMs = 60_000,
}) {
  const args = ['agent', '--server', serverUrl, '--name', name, '--data-dir', dataDir, '--port', '0', '--log-level', 'warn'];
  if (labels) args.push('--labels', labels);
  if (joinToken) args.push('--join-token', joinToken);
  args.push(...extraArgs);
  const child = spawn(process.execPath, [...nodeArgs, FOGLINE_BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const lifetime = trackChild(child);
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent ${name} did not start:\n${redact(output)}`)), startTimeoutMs);
    const onData = (chunk) => {
      output = (output + chunk.toString()).slice(-8192);
      const match = output.match(/serving on (http:\/\/\S+)/);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`agent ${name} exited (code ${code}, signal ${signal}) before serving:\n${redact(output)}`));
    });
  });
  const stop = (graceMs = 10_000) => lifetime.stop(graceMs);
  const unexpectedExit = () =>
    lifetime.unexpectedExit()
      ? `agent ${name} (pid ${child.pid}) exited during the run (code ${lifetime.exited.code}, signal ${lifetime.exited.signal})`
      : undefined;
  return { child, pid: child.pid, url, name, stop, unexpectedExit, output: () => redact(output) };
}

function redact(text) {
  return text.replace(/fgl\.[0-9a-f]{16}\.[A-Za-z0-9_-]+/g, 'fgl.<redacted>');
}

/** Uploads the vendored PJM East series as dataset `pjme`. */
export async function uploadPjme(api) {
  await api('POST', '/api/v1/datasets/pjme/versions?timeColumn=Datetime&valueColumn=PJME_MW', fs.readFileSync(PJME_CSV), {
    'content-type': 'text/csv',
  });
}

/** Runs the forecast pipeline (gate none) into model `model` and returns the registered version. */
export async function trainForecaster(apiJson, { model = 'energy', params }) {
  return trainModel(apiJson, { pipeline: 'forecast', dataset: 'pjme', model, params });
}

/** Runs `pipeline` (gate none) on `dataset` into model `model` and returns the registered version. */
export async function trainModel(apiJson, { pipeline, dataset, model, params }) {
  const run = await apiJson('POST', '/api/v1/runs', { pipeline, dataset, model, gate: 'none', params });
  let view;
  do {
    await sleep(300);
    view = await apiJson('GET', `/api/v1/runs/${run.id}`);
  } while (view.status === 'queued' || view.status === 'running');
  if (view.status !== 'succeeded') throw new Error(`training failed: ${view.error}`);
  return view.registeredVersion;
}

/**
 * What the soak and swap benches start from: uploads PJM East, trains one small forecaster version
 * per seed into model `energy`, points `energy@champion` at the first, starts `agents` agents
 * (`<tag>-1` …, labelled bench=<tag>) and deploys `energy@champion` to them with strategy all.
 * Returns { versions, agents }.
 */
export async function deployChampion(cluster, { tag, agents: count, window, epochs, hidden, seeds = [1, 2, 3] }) {
  await uploadPjme(cluster.api);
  const versions = [];
  for (const seed of seeds) {
    versions.push(await trainForecaster(cluster.apiJson, { params: { window, epochs, hidden: [hidden], seed } }));
  }
  await cluster.api('PUT', '/api/v1/models/energy/aliases/champion', { version: versions[0] });
  const joinToken = await cluster.joinToken(count);
  const agents = [];
  for (let i = 0; i < count; i++) agents.push(await cluster.startAgent({ name: `${tag}-${i + 1}`, labels: `bench=${tag}`, joinToken }));
  await cluster.api('POST', '/api/v1/deployments', {
    name: 'energy',
    model: 'energy@champion',
    nodeSelector: { bench: tag },
    strategy: 'all',
  });
  return { versions, agents };
}

/** A real V2 forecaster request: the last `window` hours of the series and the hour after them. */
export async function forecastRequest(window) {
  const { parseTimeSeriesCsv } = await import(path.join(ROOT, 'dist/ml/timeseries/ingest.js'));
  const series = parseTimeSeriesCsv(fs.readFileSync(PJME_CSV, 'utf8'), { timeColumn: 'Datetime', valueColumn: 'PJME_MW' });
  const inputs = [
    { name: 'history', shape: [1, window], datatype: 'FP32', data: Array.from(series.values.subarray(series.values.length - window)) },
    { name: 'start_time', shape: [1], datatype: 'INT64', data: [series.start + series.values.length * series.intervalSeconds] },
  ];
  return { inputs, body: JSON.stringify({ inputs }) };
}

/**
 * POSTs `body` (a JSON string) over `agent` (the shared keep-alive agent unless given). Resolves
 * with the response text when `read` is true (else undefined) on a 200; rejects on anything else,
 * or after `timeoutMs`.
 */
export function post(url, body, { headers = {}, read = false, timeoutMs = 30_000, agent = keepAlive } = {}) {
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        const chunks = [];
        if (read || response.statusCode !== 200) response.on('data', (chunk) => chunks.push(chunk));
        else response.resume();
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          if (response.statusCode === 200) resolve(read ? text : undefined);
          else reject(new Error(`infer answered ${response.statusCode}: ${text.slice(0, 200)}`));
        });
        response.on('error', reject);
      },
    );
    request.setTimeout(timeoutMs, () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on('error', reject);
    request.end(body);
  });
}

/** One V2 infer on a node; resolves with the `model_version` that answered. */
export async function inferVersion(url, body, options) {
  const text = await post(url, body, { ...options, read: true });
  const match = /"model_version"\s*:\s*"([^"]*)"/.exec(text);
  if (!match) throw new Error(`no model_version in the answer: ${text.slice(0, 200)}`);
  return match[1];
}

/** Waits until `check()` resolves truthy (errors count as not yet); returns its value. */
export async function waitFor(check, { timeoutMs = 60_000, intervalMs = 100, what = 'the condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Least-squares slope of ys over xs (same length >= 2); NaN otherwise. */
export function slope(xs, ys) {
  const n = xs.length;
  if (n < 2) return Number.NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? Number.NaN : num / den;
}

/** What a results file says about the machine: CPUs, load before and after the run, Node version. */
export function machineFacts(loadBefore, loadAfter = os.loadavg()) {
  const one = (value) => Math.round(value * 100) / 100;
  return { cpus: os.cpus().length, loadAverageBefore: one(loadBefore[0]), loadAverageAfter: one(loadAfter[0]), node: process.version };
}
