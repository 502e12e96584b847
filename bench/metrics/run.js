#!/usr/bin/env node
// bench/metrics: how long a Prometheus scrape of an agent's GET /metrics takes when the agent
// serves 10 model versions (goal: under 50 ms), and what the serving observer costs per request.
//
// The agent here is in-process: the agent's own AgentMetrics (same registry, same /metrics route
// and HTTP hook, resources read from this machine at scrape time) on a real Fastify server on
// loopback, its series filled through the same ServingObserver calls the runtime makes: 10
// deployments serving one version each, each with a retired version still exported (20 versions
// of series), successes and failures, loads and swaps, artifact downloads, and traffic on the
// V2 routes. Training and deploying 10 real models would time the same code after minutes of set-up.
//
//   npm run build && npm run bench:metrics [-- --scrapes 200 --deployments 10]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Fastify from 'fastify';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { AgentMetrics } = await import(path.join(ROOT, 'dist/agent/metrics/agent-metrics.js'));
const { readResources } = await import(path.join(ROOT, 'dist/agent/resources.js'));

const { values: flags } = parseArgs({
  options: {
    scrapes: { type: 'string', default: '200' },
    deployments: { type: 'string', default: '10' },
    observations: { type: 'string', default: '1000000' },
  },
});
const SCRAPES = Number(flags.scrapes);
const DEPLOYMENTS = Number(flags.deployments);
const OBSERVATIONS = Number(flags.observations);

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fogline-bench-metrics-'));
const metrics = new AgentMetrics({ dataDir });
const app = Fastify({ logger: false });
metrics.install(app);
app.post('/v2/models/:name/infer', async () => ({ ok: true }));
app.get('/v2/models/:name', async () => ({ ok: true }));
metrics.setNode({ nodeId: 'bench0000000001', nodeName: 'edge-bench', role: 'edge', version: 'bench' }, () => readResources(dataDir, []));
await app.listen({ host: '127.0.0.1', port: 0 });
const url = `http://127.0.0.1:${app.server.address().port}`;

// 10 deployments: version 1 loaded, swapped to version 2 (v1 stays exported until it retires).
const serving = metrics.serving;
const random = (() => {
  let seed = 42;
  return () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
})();
/** 500 requests to one version: about 1% failed, random queue and compute times and batch sizes. */
const inferMany = (deployment, model, version) => {
  for (let i = 0; i < 500; i++) {
    serving.inferred({
      deployment,
      model,
      version,
      ok: random() > 0.01,
      queueSeconds: random() / 1000,
      computeSeconds: random() / 100,
      batchSize: 1 + Math.floor(random() * 8),
    });
  }
};
for (let d = 0; d < DEPLOYMENTS; d++) {
  const deployment = `deployment-${d}`;
  const model = `model-${d}`;
  serving.loaded({ deployment, model, version: 1, seconds: 0.4 + random(), ok: true });
  inferMany(deployment, model, 1);
  serving.loaded({ deployment, model, version: 2, seconds: 0.4 + random(), ok: true });
  serving.swapped({ deployment, model, fromVersion: 1, toVersion: 2, seconds: random() / 100 });
  serving.unloaded({ deployment, model, version: 1 });
  inferMany(deployment, model, 2);
}
for (let i = 0; i < 200; i++) {
  await fetch(`${url}/v2/models/deployment-${i % DEPLOYMENTS}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  await fetch(`${url}/v2/models/deployment-${i % DEPLOYMENTS}`);
}

// The serving observer on the request path: one inferred() call, timed over many.
const events = Array.from({ length: DEPLOYMENTS }, (_, d) => ({
  deployment: `deployment-${d}`,
  model: `model-${d}`,
  version: 2,
  ok: true,
  queueSeconds: 0.0001,
  computeSeconds: 0.001,
  batchSize: 4,
}));
const started = process.hrtime.bigint();
for (let i = 0; i < OBSERVATIONS; i++) serving.inferred(events[i % DEPLOYMENTS]);
const observeNs = Number(process.hrtime.bigint() - started) / OBSERVATIONS;

// Scrapes over HTTP, as Prometheus makes them (a fresh text each time, resources read each time).
const times = [];
let body = '';
for (let i = 0; i < 10; i++) await (await fetch(`${url}/metrics`)).text();
for (let i = 0; i < SCRAPES; i++) {
  const t0 = performance.now();
  const response = await fetch(`${url}/metrics`);
  body = await response.text();
  times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
const pct = (p) => times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))];
const samples = body.split('\n').filter((line) => line !== '' && !line.startsWith('#')).length;
const versions = new Set([...body.matchAll(/deployment="([^"]+)",model="[^"]+",version="(\d+)"/g)].map((m) => `${m[1]}@${m[2]}`)).size;

console.log(`bench/metrics on ${os.cpus()[0]?.model ?? 'unknown CPU'} (${os.availableParallelism()} cores), Node ${process.version}`);
console.log(
  `agent registry: ${DEPLOYMENTS} deployments, ${versions} model versions exported, ${samples} samples, ${(body.length / 1024).toFixed(1)} KiB per scrape`,
);
console.log(
  `GET /metrics over loopback HTTP, ${SCRAPES} scrapes: p50 ${pct(50).toFixed(2)} ms, p95 ${pct(95).toFixed(2)} ms, max ${times.at(-1).toFixed(2)} ms (goal < 50 ms: ${pct(95) < 50 ? 'met' : 'NOT met'})`,
);
console.log(`serving observer on the request path: ${observeNs.toFixed(0)} ns per inferred() call`);

await app.close();
fs.rmSync(dataDir, { recursive: true, force: true });
