#!/usr/bin/env node
// bench/serve HTTP ceiling: the agent's own server stack with no model behind it. Fastify with the
// agent's logger settings, its EdgeGuard (open) and AgentMetrics hooks, and the real v2Routes from
// dist/ (the same body parsing, binary tensor data parser and request/response schema validation),
// over a V2ModelSource that answers every infer with a fixed forecast: `outputs` floats, no
// predict, no batching, no drift statistics. What it answers is what the agent's /v2 infer costs
// when the model costs nothing.
//
// Forked by run.js: sends { url } over IPC once listening and exits when the IPC channel closes.
// By hand: node bench/serve/ceiling-server.js [--port 0] [--outputs 24]   (prints "serving on URL")
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dist = (file) => import(path.join(ROOT, 'dist', file));

const { values: flags } = parseArgs({
  options: { port: { type: 'string', default: '0' }, outputs: { type: 'string', default: '24' }, help: { type: 'boolean' } },
});
if (flags.help) {
  console.log('usage: node bench/serve/ceiling-server.js [--port 0] [--outputs 24]   (needs npm run build first)');
  process.exit(0);
}

const [{ default: Fastify }, { v2Routes }, { EdgeGuard }, { AgentMetrics }, { REDACTING_LOG_SERIALIZERS }] = await Promise.all([
  import('fastify'),
  dist('inference/v2-routes.js'),
  dist('agent/edge-auth/edge-guard.js'),
  dist('agent/metrics/agent-metrics.js'),
  dist('http/redact-url.js'),
]);

const OUTPUTS = Number(flags.outputs);
// A plausible forecast in MW; fixed, so the answer costs only its serialisation.
const FORECAST = Array.from({ length: OUTPUTS }, (_, i) => 30_000 + Math.round(Math.sin(i / 4) * 5_000 * 100) / 100);

/** A V2ModelSource with one model of any name, answering without a model. */
const fixedAnswer = {
  ready: async () => true,
  modelReady: async () => undefined,
  metadata: async (name) => ({
    name,
    versions: ['1'],
    platform: 'fogline-ceiling',
    inputs: [
      { name: 'history', datatype: 'FP32', shape: [-1, -1] },
      { name: 'start_time', datatype: 'INT64', shape: [-1] },
    ],
    outputs: [{ name: 'forecast', datatype: 'FP32', shape: [-1, OUTPUTS] }],
  }),
  // An InferenceCall in (src/inference/inference-call.ts; the routes converted the request once), an InferenceResult out.
  infer: async (call) => ({
    modelName: call.name,
    modelVersion: '1',
    ranOn: 'edge',
    outputs: [{ name: 'forecast', datatype: 'FP32', shape: [1, OUTPUTS], data: FORECAST }],
  }),
};

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fogline-bench-ceiling-'));
const app = Fastify({ logger: { level: 'warn', serializers: REDACTING_LOG_SERIALIZERS } });
new EdgeGuard('open').install(app);
new AgentMetrics({ dataDir }).install(app);
await app.register(v2Routes(fixedAnswer, 'public'));
await app.listen({ host: '127.0.0.1', port: Number(flags.port) });
const address = app.server.address();
const url = `http://127.0.0.1:${address.port}`;

const stop = async () => {
  await app.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
};
if (process.send) {
  process.send({ url });
  process.on('disconnect', stop);
} else {
  console.log(`serving on ${url}`);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
