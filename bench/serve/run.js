#!/usr/bin/env node
// bench/serve: Open Inference Protocol serving on an AGENT, side by side in one run with the HTTP
// ceiling (the agent's own server stack answering the same request with a fixed answer and no
// model) and with in-process predict loops (model cost alone). Every HTTP figure comes from a load
// generator in its own process (bench/serve/load-generator.js, forked once per row, keep-alive).
//
// Rows: the ceiling (JSON at each concurrency, binary tensor data at the highest); agent V2 for the
// default forecaster architecture (600-point window: seed 002's request size) on ONNX Runtime, the
// same forecaster on TensorFlow.js (a second agent, --runtime tfjs) and the PyTorch digits CNN
// (examples/pytorch, imported as ONNX; a third agent that serves only it); binary vs JSON for the
// forecaster; the in-process predict loops; and each agent's RSS (/proc/<pid>/status).
//
//   npm run build && node bench/serve/run.js --help
import { fork, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { forecastRequest, post as postBody, ROOT, startCluster, trainForecaster, uploadPjme, waitFor } from '../lib/cluster.js';
import { fmt, renderTable } from '../fleet/lib/stats.js';

const HERE = path.join(ROOT, 'bench/serve');
const USAGE = `usage: npm run build && node bench/serve/run.js [options]

  --duration S            seconds per HTTP row and per predict loop (default 5)
  --rounds N              repeat every HTTP row N times, interleaved; the table shows each row's
                          median-throughput round (default 1)
  --epochs N              forecaster training epochs (default 3; the figures do not depend on it)
  --window N              forecaster window: points per request (default 600)
  --concurrency LIST      concurrencies for the JSON rows (default 1,4,8); binary runs at the last
  --max-batch-size N      agents' --max-batch-size (default 8)
  --max-batch-delay-ms N  agents' --max-batch-delay-ms (default 0)
  --onnx-threads N        agents' --onnx-threads and the in-process ONNX loops' intra-op threads (default 1)
  --predictor-isolation M agents' --predictor-isolation: in-process | worker (default in-process)
  --tfjs-agent MODE       flag: the tfjs agent gets --runtime tfjs; block-onnx: also make its
                          import('onnxruntime-node') fail, so built-in models fall back to tfjs (default flag;
                          the bench says which runtime each agent really loaded either way)
  --cloud yes|no          also measure the control plane's /v2 for the forecaster (default no)
  --out FILE              also write every figure as JSON
  --agent-cpu-prof DIR    write each agent's V8 CPU profile under DIR/<agent> when it stops
  --help                  this text`;

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '1' },
    epochs: { type: 'string', default: '3' },
    window: { type: 'string', default: '600' },
    concurrency: { type: 'string', default: '1,4,8' },
    'max-batch-size': { type: 'string', default: '8' },
    'max-batch-delay-ms': { type: 'string', default: '0' },
    'onnx-threads': { type: 'string', default: '1' },
    'predictor-isolation': { type: 'string', default: 'in-process' },
    'tfjs-agent': { type: 'string', default: 'flag' },
    cloud: { type: 'string', default: 'no' },
    out: { type: 'string' },
    'agent-cpu-prof': { type: 'string' },
    help: { type: 'boolean' },
  },
});
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}
if (!fs.existsSync(path.join(ROOT, 'dist/inference/v2-routes.js'))) {
  console.error('bench/serve needs dist/: run npm run build (or npx tsc -p tsconfig.build.json) first');
  process.exit(2);
}
if (!['flag', 'block-onnx'].includes(flags['tfjs-agent'])) throw new Error('--tfjs-agent is flag or block-onnx');

const DURATION_MS = Number(flags.duration) * 1000;
const ROUNDS = Number(flags.rounds);
const WINDOW = Number(flags.window);
const CONCURRENCIES = flags.concurrency.split(',').map(Number);
const TOP = CONCURRENCIES[CONCURRENCIES.length - 1];
const ONNX_THREADS = Number(flags['onnx-threads']);
const loadBefore = os.loadavg();

const { loadBundle } = await import(path.join(ROOT, 'dist/ml/bundle/load-bundle.js'));
const { encodeBinaryRequest, decodeBinaryResponse } = await import(path.join(ROOT, 'dist/inference/v2-binary.js'));

// The PyTorch example trains while the control plane starts (about 8 s).
const exampleDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fogline-bench-serve-cnn-'));
const example = new Promise((resolve, reject) => {
  const child = spawn('/usr/bin/python3', [path.join(ROOT, 'examples/pytorch/train_digits_cnn.py'), '--out', exampleDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`train_digits_cnn.py failed (${code}):\n${output}`))));
});

const cluster = await startCluster({ tag: 'serve', intervalSeconds: 15 });
const { server, api, apiJson, auth } = cluster;
const children = [];
try {
  console.log(`[serve] training the forecaster (window ${WINDOW}, ${flags.epochs} epochs) and the PyTorch digits CNN …`);
  await uploadPjme(api);
  await trainForecaster(apiJson, { params: { window: WINDOW, epochs: Number(flags.epochs) } });
  await example;
  const imported = await api(
    'POST',
    `/api/v1/models/digits/versions?filename=digits-cnn.onnx&labels=${encodeURIComponent(fs.readFileSync(path.join(exampleDir, 'labels.txt'), 'utf8'))}`,
    fs.readFileSync(path.join(exampleDir, 'digits-cnn.onnx')),
    { 'content-type': 'application/octet-stream' },
  );
  const digitsVersion = (await imported.json()).version;

  // The requests: the forecaster's as JSON and as binary tensor data (inputs and outputs), the CNN's as JSON (batch 1).
  const { inputs: forecastInputs, body: forecastJson } = await forecastRequest(WINDOW);
  const binary = encodeBinaryRequest({ inputs: forecastInputs }, { binaryOutputs: true });
  const forecastBinary = {
    body: binary.body.toString('base64'),
    bodyEncoding: 'base64',
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(binary.headerLength) },
  };
  const cnnExample = JSON.parse(fs.readFileSync(path.join(exampleDir, 'digits-cnn.request.json'), 'utf8')).inputs[0];
  const cnnInputs = [{ name: cnnExample.name, shape: [1, 64], datatype: 'FP32', data: cnnExample.data.slice(0, 64) }];
  const cnnJson = JSON.stringify({ inputs: cnnInputs });

  // In-process predict loops, while nothing else of the bench runs: the model's cost alone.
  const forecasterBundle = Buffer.from(await (await api('GET', '/api/v1/models/energy/versions/1/artifact')).arrayBuffer());
  const cnnBundle = Buffer.from(await (await api('GET', `/api/v1/models/digits/versions/${digitsVersion}/artifact`)).arrayBuffer());
  const loops = {};
  for (const [key, bundle, runtime, inputs] of [
    ['forecaster onnx', forecasterBundle, 'onnx', forecastInputs],
    ['forecaster tfjs', forecasterBundle, 'tfjs', forecastInputs],
    ['cnn onnx', cnnBundle, 'onnx', cnnInputs],
  ]) {
    const predictor = await loadBundle(bundle, { runtime, onnx: { intraOpThreads: ONNX_THREADS } });
    if (predictor.runtime !== runtime) throw new Error(`${key}: loadBundle ran it on ${predictor.runtime}`);
    loops[key] = await predictLoop(() => predictor.predict(inputs));
    predictor.dispose();
    console.log(`[serve] in-process ${key}: ${fmt(loops[key].rps, 0)} predicts/s`);
  }

  // The ceiling, in its own process.
  const ceiling = fork(path.join(HERE, 'ceiling-server.js'), [], { env: childEnv(), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(ceiling);
  const { url: ceilingUrl } = await new Promise((resolve, reject) => {
    ceiling.once('message', resolve);
    ceiling.once('exit', (code) => reject(new Error(`the ceiling server exited (${code})`)));
  });

  // Three agents: forecaster on ONNX Runtime, forecaster on tfjs, the imported CNN alone.
  const joinToken = await cluster.joinToken(3);
  const agentArgs = [
    ...['--max-batch-size', flags['max-batch-size'], '--max-batch-delay-ms', flags['max-batch-delay-ms']],
    ...['--predictor-isolation', flags['predictor-isolation'], '--onnx-threads', String(ONNX_THREADS)],
  ];
  const agents = {};
  for (const [key, runtime, extraEnv] of [
    ['onnx', 'onnx', {}],
    ['tfjs', 'tfjs', flags['tfjs-agent'] === 'block-onnx' ? { BENCH_BLOCK_ONNX: '1' } : {}],
    ['cnn', 'onnx', {}],
  ]) {
    const probeFile = path.join(cluster.dataDir, `probe-${key}.txt`);
    fs.writeFileSync(probeFile, '');
    const saved = { ...process.env };
    // Agents inherit this process's environment (bench/lib/cluster.js): the probe rides on it.
    const profile = flags['agent-cpu-prof'] ? { BENCH_CPU_PROF_DIR: path.resolve(flags['agent-cpu-prof'], key) } : {};
    Object.assign(process.env, {
      ...profile,
      NODE_OPTIONS: `--import ${path.join(HERE, 'runtime-probe.js')}`,
      BENCH_PROBE_FILE: probeFile,
      ...extraEnv,
    });
    try {
      const agent = await cluster.startAgent({
        name: `bench-${key}`,
        labels: `bench=${key}`,
        joinToken,
        extraArgs: [...agentArgs, '--runtime', runtime],
      });
      agents[key] = { ...agent, probeFile };
    } finally {
      for (const name of ['NODE_OPTIONS', 'BENCH_PROBE_FILE', 'BENCH_BLOCK_ONNX', 'BENCH_CPU_PROF_DIR']) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
    }
  }
  const deployments = [
    ['energy', 'energy@1', 'onnx'],
    ['energy-tfjs', 'energy@1', 'tfjs'],
    ['digits', `digits@${digitsVersion}`, 'cnn'],
  ];
  for (const [name, model, key] of deployments) await api('POST', '/api/v1/deployments', { name, model, nodeSelector: { bench: key } });
  const inferUrl = (key, name) => `${agents[key].url}/v2/models/${name}/infer`;
  for (const [name, , key] of deployments) {
    await waitFor(() => postBody(inferUrl(key, name), name === 'digits' ? cnnJson : forecastJson).then(() => true), {
      timeoutMs: 120_000,
      what: `agent ${key} to serve ${name}`,
    });
  }
  const rssIdle = Object.fromEntries(Object.entries(agents).map(([key, agent]) => [key, memoryOf(agent.pid)]));
  const loaded = Object.fromEntries(Object.entries(agents).map(([key, agent]) => [key, fs.readFileSync(agent.probeFile, 'utf8')]));
  const tfjsLoaded = (key) => loaded[key].includes('@tensorflow/tfjs');
  console.log(`[serve] tfjs imported by agent: onnx ${tfjsLoaded('onnx')}, tfjs ${tfjsLoaded('tfjs')}, cnn ${tfjsLoaded('cnn')}`);
  if (!tfjsLoaded('tfjs')) {
    console.log(
      '[serve] WARNING: the agent started with --runtime tfjs never imported TensorFlow.js: it serves the forecaster on ONNX Runtime',
    );
  }

  // The binary answer must say what the JSON answer says.
  const jsonAnswer = JSON.parse(await postBody(inferUrl('onnx', 'energy'), forecastJson, { read: true })).outputs[0].data;
  const binaryAnswer = await postBinary(inferUrl('onnx', 'energy'), binary);
  const differs = jsonAnswer.findIndex((value, i) => Math.abs(value - binaryAnswer[i]) > 1e-3 * Math.max(1, Math.abs(value)));
  if (binaryAnswer.length !== jsonAnswer.length || differs >= 0) throw new Error('the binary answer differs from the JSON answer');

  // The HTTP rows, interleaved by concurrency so that rows compared with each other ran close in time.
  const json = (body) => ({ body });
  const plan = [];
  for (const c of CONCURRENCIES) {
    plan.push([`ceiling JSON`, c, ceilingUrl + '/v2/models/energy/infer', json(forecastJson), ceiling.pid]);
    plan.push([`forecaster onnx JSON`, c, inferUrl('onnx', 'energy'), json(forecastJson), agents.onnx.pid]);
    plan.push([`forecaster tfjs JSON`, c, inferUrl('tfjs', 'energy-tfjs'), json(forecastJson), agents.tfjs.pid]);
    plan.push([`cnn onnx JSON`, c, inferUrl('cnn', 'digits'), json(cnnJson), agents.cnn.pid]);
    if (flags.cloud === 'yes') {
      plan.push([`control plane onnx JSON`, c, `${server.url}/v2/models/energy/infer`, { body: forecastJson, headers: auth }, server.pid]);
    }
  }
  // What any body costs: the same request with a one-point history (the fixed answer does not look at it).
  const oneFloat = JSON.stringify({
    inputs: [{ ...forecastInputs[0], shape: [1, 1], data: forecastInputs[0].data.slice(0, 1) }, forecastInputs[1]],
  });
  plan.push([`ceiling one-float JSON`, TOP, ceilingUrl + '/v2/models/energy/infer', json(oneFloat), ceiling.pid]);
  plan.push([`ceiling binary`, TOP, ceilingUrl + '/v2/models/energy/infer', forecastBinary, ceiling.pid]);
  plan.push([`forecaster onnx binary`, TOP, inferUrl('onnx', 'energy'), forecastBinary, agents.onnx.pid]);
  const runs = new Map();
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [label, concurrency, url, request, cpuPid] of plan) {
      const result = await loadFromOwnProcess({ url, concurrency, durationMs: DURATION_MS, cpuPid, ...request });
      const key = `${label}@${concurrency}`;
      runs.set(key, [...(runs.get(key) ?? []), result]);
      console.log(
        `[serve] round ${round} ${key}: ${fmt(result.rps, 0)} req/s, p50 ${fmt(result.p50, 3)} ms, CPU ${fmt(result.cpuMicrosPerRequest, 0)} µs/request, failures ${result.failures}${result.firstFailure ? ` (${result.firstFailure})` : ''}`,
      );
      for (const agent of Object.values(agents)) {
        const exited = agent.unexpectedExit();
        if (exited) throw new Error(exited);
      }
    }
  }
  const rss = Object.fromEntries(Object.entries(agents).map(([key, agent]) => [key, memoryOf(agent.pid)]));
  const loadAfter = os.loadavg();

  // The table.
  const median = (key) => {
    const list = [...(runs.get(key) ?? [])].sort((a, b) => a.rps - b.rps);
    return list[Math.floor(list.length / 2)];
  };
  const pct = (a, b) => `${fmt((a / b) * 100, 0)}%`;
  const rows = [];
  const httpRow = (what, label, c, compare) => {
    const result = median(`${label}@${c}`);
    rows.push([what, String(c), ...cells(result), compare(result)]);
  };
  const vsCeiling = (c) => (result) => `${pct(result.rps, median(`ceiling JSON@${c}`).rps)} of ceiling`;
  for (const c of CONCURRENCIES) httpRow('HTTP ceiling (agent stack, fixed answer, no model), JSON', 'ceiling JSON', c, () => '');
  rows.push([
    'HTTP ceiling, binary tensor data',
    String(TOP),
    ...cells(median(`ceiling binary@${TOP}`)),
    `${fmt(median(`ceiling binary@${TOP}`).rps / median(`ceiling JSON@${TOP}`).rps, 2)}x ceiling JSON`,
  ]);
  rows.push([
    'HTTP ceiling, JSON with a 1-point history',
    String(TOP),
    ...cells(median(`ceiling one-float JSON@${TOP}`)),
    `${fmt(median(`ceiling one-float JSON@${TOP}`).rps / median(`ceiling JSON@${TOP}`).rps, 2)}x ceiling JSON`,
  ]);
  for (const c of CONCURRENCIES) httpRow('agent V2, forecaster on ONNX Runtime, JSON', 'forecaster onnx JSON', c, vsCeiling(c));
  rows.push([
    'agent V2, forecaster on ONNX Runtime, binary',
    String(TOP),
    ...cells(median(`forecaster onnx binary@${TOP}`)),
    `${fmt(median(`forecaster onnx binary@${TOP}`).rps / median(`forecaster onnx JSON@${TOP}`).rps, 2)}x JSON`,
  ]);
  const tfjsName = tfjsLoaded('tfjs') ? 'agent V2, forecaster on tfjs, JSON' : 'agent V2, forecaster, --runtime tfjs (ran ONNX!), JSON';
  for (const c of CONCURRENCIES) {
    httpRow(
      tfjsName,
      'forecaster tfjs JSON',
      c,
      (r) => `${vsCeiling(c)(r)}; onnx/tfjs ${fmt(median(`forecaster onnx JSON@${c}`).rps / r.rps, 2)}x`,
    );
  }
  for (const c of CONCURRENCIES) httpRow('agent V2, PyTorch digits CNN (imported ONNX), JSON', 'cnn onnx JSON', c, vsCeiling(c));
  if (flags.cloud === 'yes') {
    for (const c of CONCURRENCIES) httpRow('control plane V2, forecaster, JSON', 'control plane onnx JSON', c, vsCeiling(c));
  }
  const loopRow = (what, key, compare) =>
    rows.push([what, '1', fmt(loops[key].rps, 0), fmt(loops[key].p50, 3), fmt(loops[key].p99, 3), '0', '', compare]);
  loopRow(
    'in-process predict loop, forecaster, ONNX Runtime',
    'forecaster onnx',
    `${fmt(loops['forecaster onnx'].rps / loops['forecaster tfjs'].rps, 2)}x tfjs`,
  );
  loopRow('in-process predict loop, forecaster, tfjs', 'forecaster tfjs', '');
  loopRow('in-process predict loop, digits CNN, ONNX Runtime', 'cnn onnx', '');

  console.log(
    `\nbench/serve, ${WINDOW}-point forecaster (24 outputs) and the digits CNN (64 in, 10 out), batch-1 requests, ${DURATION_MS / 1000} s per row, ${ROUNDS} round(s); load generator in its own process; ${os.cpus().length} CPUs, load average ${loadBefore[0].toFixed(2)} before, ${loadAfter[0].toFixed(2)} after; Node ${process.version}\n`,
  );
  console.log(
    renderTable(
      ['path', 'concurrency', 'requests/s', 'p50 ms', 'p99 ms', 'failures', 'server CPU µs/request', 'ratio'],
      rows,
      (i) => i > 0,
    ),
  );
  const mb = (kb) => fmt(kb / 1024, 1);
  console.log('\nAgent memory, MB: VmRSS once serving (before load) | after the run: VmRSS = RssAnon + RssFile (+ shmem), VmHWM peak');
  for (const [key, what] of [
    ['onnx', 'forecaster on ONNX Runtime'],
    ['tfjs', 'forecaster, --runtime tfjs'],
    ['cnn', 'imported CNN only'],
  ]) {
    const [idle, after] = [rssIdle[key], rss[key]];
    console.log(
      `  ${what.padEnd(28)} ${mb(idle.rss)} | ${mb(after.rss)} = ${mb(after.anon)} + ${mb(after.file)}, peak ${mb(after.hwm)}  (TensorFlow.js imported: ${tfjsLoaded(key) ? 'yes' : 'no'})`,
    );
  }

  const agentTop = median(`forecaster onnx JSON@${TOP}`).rps / median(`ceiling JSON@${TOP}`).rps;
  const p50One = median(`forecaster onnx JSON@${CONCURRENCIES[0]}`).p50;
  const loopRatio = loops['forecaster onnx'].rps / loops['forecaster tfjs'].rps;
  const binaryRatio = median(`forecaster onnx binary@${TOP}`).rps / median(`forecaster onnx JSON@${TOP}`).rps;
  const goals = [
    [`agent V2 (forecaster, ONNX) >= 90% of the HTTP ceiling at concurrency ${TOP}`, `${fmt(agentTop * 100, 0)}%`, agentTop >= 0.9],
    [`p50 < 1 ms at concurrency ${CONCURRENCIES[0]} (forecaster, ONNX)`, `${fmt(p50One, 3)} ms`, p50One < 1],
    [`ONNX Runtime predict loop >= 3x tfjs's (forecaster)`, `${fmt(loopRatio, 2)}x`, loopRatio >= 3],
    [`binary >= 2x JSON throughput at concurrency ${TOP} (forecaster, agent)`, `${fmt(binaryRatio, 2)}x`, binaryRatio >= 2],
    [
      `agent RSS with one imported model <= 100 MB`,
      `${mb(rssIdle.cnn.rss)} MB serving, ${mb(rss.cnn.rss)} MB after the run (peak ${mb(rss.cnn.hwm)} MB)`,
      rss.cnn.hwm <= 100 * 1024,
    ],
  ];
  // Issue 19's serving figures: the agent's share of the ceiling at the top concurrency, and what a
  // request costs the agent in CPU. Paired by round (the two rows ran seconds apart), median over
  // rounds: on a shared machine the medians of the two rows can come from rounds far apart.
  const paired = (runs.get(`forecaster onnx JSON@${TOP}`) ?? []).map((agent, i) => {
    const ceilingRun = runs.get(`ceiling JSON@${TOP}`)[i];
    return { share: agent.rps / ceilingRun.rps, agentCpu: agent.cpuMicrosPerRequest, ceilingCpu: ceilingRun.cpuMicrosPerRequest };
  });
  const middle = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const share = middle(paired.map((p) => p.share));
  console.log(
    `\nServing (issue 19), concurrency ${TOP}, JSON, by round (agent/ceiling req/s, CPU µs per request agent/ceiling): ${paired
      .map((p) => `${fmt(p.share * 100, 0)}% (${fmt(p.agentCpu, 0)}/${fmt(p.ceilingCpu, 0)} µs)`)
      .join(
        '; ',
      )}\n  median: agent V2 at ${fmt(share * 100, 0)}% of the HTTP ceiling (goal >= 90%); CPU per request: agent ${fmt(middle(paired.map((p) => p.agentCpu)), 0)} µs, ceiling ${fmt(middle(paired.map((p) => p.ceilingCpu)), 0)} µs, agent minus ceiling in the same round ${fmt(middle(paired.map((p) => p.agentCpu - p.ceilingCpu)), 0)} µs`,
  );
  console.log('\nGoals:');
  for (const [goal, value, met] of goals) console.log(`  ${goal}: ${value} (${met ? 'met' : 'NOT met'})`);

  if (flags.out) {
    const results = {
      flags,
      machine: { cpus: os.cpus().length, loadBefore: loadBefore[0], loadAfter: loadAfter[0], node: process.version },
      http: Object.fromEntries(runs),
      loops,
      rss: { idle: rssIdle, afterRun: rss },
      tfjsImported: Object.fromEntries(Object.keys(agents).map((key) => [key, tfjsLoaded(key)])),
      goals: goals.map(([goal, value, met]) => ({ goal, value, met })),
    };
    fs.writeFileSync(flags.out, JSON.stringify(results, null, 2));
  }
} finally {
  for (const child of children) child.kill('SIGTERM');
  await cluster.cleanup();
  fs.rmSync(exampleDir, { recursive: true, force: true });
}

function cells(result) {
  return [fmt(result.rps, 0), fmt(result.p50, 3), fmt(result.p99, 3), String(result.failures), fmt(result.cpuMicrosPerRequest, 0)];
}

/** This process's environment minus the agents' probe: the bench's own children run plain. */
function childEnv() {
  const { NODE_OPTIONS: _options, BENCH_PROBE_FILE: _probe, BENCH_BLOCK_ONNX: _block, BENCH_CPU_PROF_DIR: _profile, ...env } = process.env;
  return env;
}

/** One HTTP row, from a load generator forked for it. */
function loadFromOwnProcess(job) {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(HERE, 'load-generator.js'), [], { env: childEnv(), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(child);
    child.once('message', (message) => (message.ok ? resolve(message.result) : reject(new Error(message.error))));
    child.once('exit', (code) => {
      children.splice(children.indexOf(child), 1);
      if (code !== 0) reject(new Error(`the load generator exited with ${code}`));
    });
    child.send(job);
  });
}

/** predict() back to back for DURATION_MS after a warm-up; latencies in ms. */
async function predictLoop(call) {
  for (let i = 0; i < 100; i++) await call();
  const latencies = [];
  const started = performance.now();
  const deadline = started + DURATION_MS;
  while (performance.now() < deadline) {
    const t0 = performance.now();
    await call();
    latencies.push(performance.now() - t0);
  }
  const seconds = (performance.now() - started) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  const at = (p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
  return { rps: sorted.length / seconds, p50: at(50), p99: at(99) };
}

/** One binary infer (binary outputs); the forecast as numbers. */
async function postBinary(url, request) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(request.headerLength) },
    body: request.body,
  });
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (!response.ok) throw new Error(`binary infer answered ${response.status}: ${Buffer.from(bytes).toString().slice(0, 200)}`);
  const decoded = decodeBinaryResponse(bytes, Number(response.headers.get('inference-header-content-length')));
  return Array.from(decoded.outputs[0].data);
}

/** A process's resident memory from /proc/<pid>/status, in kB: all of it, anonymous, file-backed (shared libraries), peak. */
function memoryOf(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: field('VmRSS'), anon: field('RssAnon'), file: field('RssFile'), hwm: field('VmHWM') };
}
