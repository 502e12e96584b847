#!/usr/bin/env node
// bench/serve: Open Inference Protocol serving throughput and latency of the default forecaster
// architecture (600-point window, seed 002's request size) on an AGENT beside a bare in-process
// predict loop on the same machine, measured in one run. The agent is a real `fogline agent`
// process (started from bin/, with --max-batch-size as given) enrolled in a real control plane;
// the model is trained there, deployed to the agent, and this process posts to the agent's
// /v2/models/energy/infer over keep-alive HTTP. The control plane's /v2 is measured too, for
// comparison (--cloud no to skip).
//
//   npm run build && node bench/serve/run.js [--duration 10] [--epochs 3] [--concurrency 1,4,8] [--max-batch-size 8] [--predictor-isolation in-process|worker]
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { forecastRequest, post as postBody, ROOT, startCluster, trainForecaster, uploadPjme } from '../lib/cluster.js';
import { fmt, renderTable, summarizeLatencies } from '../fleet/lib/stats.js';

const { loadBundle } = await import(path.join(ROOT, 'dist/ml/bundle/load-bundle.js'));

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    epochs: { type: 'string', default: '3' },
    window: { type: 'string', default: '600' },
    concurrency: { type: 'string', default: '1,4,8' },
    'max-batch-size': { type: 'string', default: '8' },
    'max-batch-delay-ms': { type: 'string', default: '0' },
    cloud: { type: 'string', default: 'yes' },
    'predictor-isolation': { type: 'string', default: 'in-process' },
  },
});
const DURATION_MS = Number(flags.duration) * 1000;
const WINDOW = Number(flags.window);

const cluster = await startCluster({ tag: 'serve', intervalSeconds: 15 });
const { server, api, apiJson, auth } = cluster;
const post = (url, body) => postBody(url, body, { headers: auth });

try {
  console.log(`[serve] training the forecaster (window ${WINDOW}, default layers, ${flags.epochs} epochs) on PJM East …`);
  await uploadPjme(api);
  await trainForecaster(apiJson, { params: { window: WINDOW, epochs: Number(flags.epochs) } });
  const { inputs, body } = await forecastRequest(WINDOW);

  // The bare loop: the same bundle, loaded in this process, predict() called back to back.
  const bundle = Buffer.from(await (await api('GET', '/api/v1/models/energy/versions/1/artifact')).arrayBuffer());
  const predictor = await loadBundle(bundle);
  const bare = await measure(1, async () => predictor.predict(inputs));
  predictor.dispose();

  // A real agent process, enrolled with a join token, serving the model through a deployment.
  const { url: agentUrl } = await cluster.startAgent({
    name: 'bench-agent',
    labels: 'bench=serve',
    joinToken: await cluster.joinToken(1),
    extraArgs: [
      ...['--max-batch-size', flags['max-batch-size'], '--max-batch-delay-ms', flags['max-batch-delay-ms']],
      ...['--predictor-isolation', flags['predictor-isolation']],
    ],
  });
  await api('POST', '/api/v1/deployments', { name: 'energy', model: 'energy@1', nodeSelector: { bench: 'serve' } });
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
    rows.push(
      row(`agent POST /v2/…/infer (max batch ${flags['max-batch-size']}, ${flags['predictor-isolation']})`, concurrency, endpoint, bare),
    );
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
  await cluster.cleanup();
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
