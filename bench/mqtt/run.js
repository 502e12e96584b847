#!/usr/bin/env node
// bench/mqtt: device data in over MQTT (issue 18) on one agent, side by side in one run with the
// same models' /v2 HTTP path on that agent, and a broker restart mid-stream.
//
// A control plane (SQLite) trains the default forecaster on PJM East (168-hour window) and the
// anomaly detector on NAB's machine_temperature_system_failure (5-minute points); one `fogline
// agent` serves both, each deployment bound to MQTT (EdgeX in and out) on a private Mosquitto
// (persistence on, its own port and temp dir). A load generator in its own process
// (bench/mqtt/load-generator.js) plays the devices (mqtt.js, QoS 1) and the result consumer, and
// sends the HTTP requests. For each model and device count: warm-up (windows filled), then readings
// at a fixed rate (open loop; latency = result received - reading published), then the most the
// path sustains (closed loop); the same model over /v2 at the same rate and concurrency; then a
// stream during which the broker is stopped (SIGTERM) and restarted: readings acknowledged vs
// results received.
//
//   npm run build && npm run bench:mqtt -- --help
import { fork, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PJME_CSV, post, ROOT, sleep, startCluster, trainForecaster, trainModel, uploadPjme, waitFor } from '../lib/cluster.js';
import { cleanupStack, progressLog } from '../fleet/lib/bench-run.js';
import { trackChild } from '../fleet/lib/server.js';
import { fmt, renderTable } from '../fleet/lib/stats.js';
import { freePort } from '../replicas/lib/replicas.js';
import { inputFilter, OUTPUT_TEMPLATE } from './load-generator.js';

const USAGE = `usage: npm run build && npm run bench:mqtt -- [options]

  --devices LIST        device counts, each its own row (default 10,100,1000)
  --rate N              readings/s offered in the fixed-rate rows, and requests/s in the HTTP
                        fixed-rate row (default 1000)
  --seconds S           seconds of each fixed-rate row, MQTT and HTTP (default 8)
  --max-seconds S       seconds of each closed-loop (most sustained) row; 0 skips them (default 4)
  --inflight N          readings (requests) outstanding in the closed-loop rows: min(devices, N)
                        (default 100)
  --restart-rate N      readings/s during the broker restart (default 200)
  --restart-seconds S   length of that stream; the broker stops at a third of it (default 9)
  --broker-down S       seconds the broker stays down (default 2)
  --tcp-nodelay MODE    none: Mosquitto as shipped (set_tcp_nodelay false); broker: Mosquitto's
                        set_tcp_nodelay true. The agent and the load generator always turn
                        Nagle's algorithm off on their own sockets (default none)
  --epochs N            training epochs of both models (default 1: the figures do not depend on it)
  --quick               a short smoke run: --devices 10,100 --seconds 2 --max-seconds 1
                        --restart-seconds 4 (explicit flags still win)
  --json FILE           also write every figure as JSON
  --help                this text`;

const { values: given } = parseArgs({
  options: {
    devices: { type: 'string' },
    rate: { type: 'string' },
    seconds: { type: 'string' },
    'max-seconds': { type: 'string' },
    inflight: { type: 'string' },
    'restart-rate': { type: 'string' },
    'restart-seconds': { type: 'string' },
    'broker-down': { type: 'string' },
    'tcp-nodelay': { type: 'string' },
    epochs: { type: 'string' },
    quick: { type: 'boolean' },
    json: { type: 'string' },
    help: { type: 'boolean' },
  },
});
if (given.help) {
  console.log(USAGE);
  process.exit(0);
}
if (!fs.existsSync(path.join(ROOT, 'dist/agent/devices/mqtt-bindings.js'))) {
  console.error('bench/mqtt needs dist/: run npm run build first');
  process.exit(2);
}
const defaults = {
  devices: '10,100,1000',
  rate: '1000',
  seconds: '8',
  'max-seconds': '4',
  inflight: '100',
  'restart-rate': '200',
  'restart-seconds': '9',
  'broker-down': '2',
  'tcp-nodelay': 'none',
  epochs: '1',
  ...(given.quick ? { devices: '10,100', seconds: '2', 'max-seconds': '1', 'restart-seconds': '4' } : {}),
};
const flags = { ...defaults, ...Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) };
const DEVICES = flags.devices.split(',').map(Number);
const MAX_DEVICES = Math.max(...DEVICES);
const RATE = Number(flags.rate);
const SECONDS = Number(flags.seconds);
const MAX_SECONDS = Number(flags['max-seconds']);
const INFLIGHT = Number(flags.inflight);
const NODELAY = flags['tcp-nodelay'];
if (!['none', 'broker'].includes(NODELAY)) throw new Error('--tcp-nodelay is none or broker');
const GOAL_P99_MS = 20;
const NAB_CSV = path.join(ROOT, 'data/nab/realKnownCause/machine_temperature_system_failure.csv');

const say = progressLog();
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => (interrupted = true));
const cleanups = cleanupStack('stopping the load generator, the agent, the control plane and the broker');
const loadBefore = os.loadavg();
const { parseTimeSeriesCsv } = await import(path.join(ROOT, 'dist/ml/timeseries/ingest.js'));
const { windowRequest } = await import(path.join(ROOT, 'dist/devices/model-inputs.js'));

try {
  const broker = await startBroker();
  cleanups.push(() => broker.remove());
  say(`private Mosquitto on 127.0.0.1:${broker.port} (persistence in ${broker.dir})`);

  const cluster = await startCluster({ tag: 'mqtt', intervalSeconds: 2 });
  cleanups.push(() => cluster.cleanup());
  const { api, apiJson } = cluster;
  say(`training the forecaster (PJM East, 168-hour window) and the anomaly detector (NAB machine temperature), ${flags.epochs} epoch(s) …`);
  await uploadPjme(api);
  await api('POST', '/api/v1/datasets/machine-temp/versions?timeColumn=timestamp&valueColumn=value', fs.readFileSync(NAB_CSV), {
    'content-type': 'text/csv',
  });
  const epochs = Number(flags.epochs);
  const [forecasterVersion, detectorVersion] = await Promise.all([
    trainForecaster(apiJson, { params: { epochs, seed: 1 } }),
    trainModel(apiJson, { pipeline: 'anomaly', dataset: 'machine-temp', model: 'machine-anomaly', params: { epochs, seed: 1 } }),
  ]);
  await api('PUT', '/api/v1/models/energy/aliases/champion', { version: forecasterVersion });

  // The two models, how many readings fill a device's window, and the /v2 request the agent makes from a full one.
  const pjme = parseTimeSeriesCsv(fs.readFileSync(PJME_CSV, 'utf8'), { timeColumn: 'Datetime', valueColumn: 'PJME_MW' });
  const nab = parseTimeSeriesCsv(fs.readFileSync(NAB_CSV, 'utf8'), { timeColumn: 'timestamp', valueColumn: 'value' });
  const models = [
    { key: 'forecaster', label: 'forecaster', model: 'energy', version: forecasterVersion, ref: 'energy@champion', series: pjme },
    {
      key: 'anomaly',
      label: 'anomaly detector',
      model: 'machine-anomaly',
      version: detectorVersion,
      ref: `machine-anomaly@${detectorVersion}`,
      series: nab,
    },
  ];
  for (const m of models) {
    const { ioSignature } = await apiJson('GET', `/api/v1/models/${m.model}/versions/${m.version}`);
    const names = ioSignature.inputs.map((t) => t.name);
    m.history = ioSignature.inputs.find((t) => t.name === 'history').shape[1];
    m.mode = names.includes('start_time') ? 'forecast' : 'score';
    // A forecaster predicts once its window is full; the detector scores a slot against the `history` before it.
    m.warmup = m.history + (m.mode === 'score' ? 1 : 0);
    const values = Array.from(m.series.values.subarray(m.series.values.length - m.history - 1));
    const slotTime = m.series.start + (m.series.values.length - 1) * m.series.intervalSeconds;
    const step =
      m.mode === 'forecast'
        ? { kind: 'due', device: 'x', slotTime, history: values.slice(1), startTime: slotTime + m.series.intervalSeconds }
        : { kind: 'due', device: 'x', slotTime, history: values.slice(0, -1), value: values.at(-1) };
    m.body = JSON.stringify(windowRequest(step));
    say(`${m.label}: ${m.ref}, inputs ${names.join(', ')}; ${m.warmup} readings fill a device's window`);
  }

  const agent = await cluster.startAgent({
    name: 'edge-mqtt',
    labels: 'bench=mqtt',
    joinToken: await cluster.joinToken(1),
    extraArgs: ['--mqtt-url', `mqtt://127.0.0.1:${broker.port}`],
  });
  for (const m of models) {
    await api('POST', '/api/v1/deployments', {
      name: m.key,
      model: m.ref,
      nodeSelector: { bench: 'mqtt' },
      mqtt: { input: inputFilter(m.key), output: OUTPUT_TEMPLATE, format: 'edgex' },
    });
  }
  for (const m of models) {
    m.url = `${agent.url}/v2/models/${m.key}/infer`;
    await waitFor(() => post(m.url, m.body).then(() => true), { timeoutMs: 120_000, what: `the agent to serve ${m.key}` });
    // The agent subscribes once the model serves; readings published before that would find no session.
    await waitFor(() => broker.log().includes(inputFilter(m.key)), { timeoutMs: 60_000, what: `the agent to subscribe for ${m.key}` });
  }
  say(`agent ${agent.url} serves both deployments and has subscribed`);

  const generator = startGenerator();
  cleanups.push(() => generator.close());
  await generator.call('init', {
    brokerUrl: `mqtt://127.0.0.1:${broker.port}`,
    maxDevices: MAX_DEVICES,
    series: Object.fromEntries(
      models.map((m) => [m.key, { values: Array.from(m.series.values), start: m.series.start, intervalSeconds: m.series.intervalSeconds }]),
    ),
  });
  for (const m of models) {
    say(`warm-up: ${MAX_DEVICES} devices × ${m.warmup} readings for the ${m.label} (one event per device) …`);
    const warm = await generator.call('warmup', { deployment: m.key, devices: MAX_DEVICES, readings: m.warmup, timeoutMs: 180_000 });
    say(`warm-up done in ${fmt(warm.seconds, 1)} s`);
  }

  // The cells: per device count and model, MQTT at the fixed rate and the same model's /v2 at the same
  // rate right after it; then the most each sustains with the same number in flight.
  const cells = [];
  const line = (r) =>
    `${fmt(r.resultsPerSecond, 0)}/s (sent ${fmt(r.sentPerSecond, 0)}/s), p50 ${fmt(r.p50, 2)} ms, p99 ${fmt(r.p99, 2)} ms, missing ${r.missing}`;
  const measure = async (m, devices, load, mqttCall, httpCall) => {
    say(`${m.label}, ${devices} devices, ${load} …`);
    const before = await agentLatency(agent.url, m.key);
    const compactions = watchCompactions(path.join(cluster.dataDir, `agent-${agent.name}`, 'devices', `${m.key}.log`));
    const mqttResult = await generator.call(...mqttCall).finally(compactions.stop);
    const agentMs = await agentMean(agent.url, m.key, before);
    say(`  MQTT: ${line(mqttResult)}; the agent's own mean ${fmt(agentMs, 2)} ms; ${compactions.count()} log compactions`);
    say(`  MQTT p99 by second of the row: ${mqttResult.perSecond.map((b) => fmt(b.p99, 1)).join(', ')} ms`);
    const httpResult = await generator.call(...httpCall);
    say(`  HTTP: ${line(httpResult)}`);
    cells.push({ model: m.label, devices, load, mqtt: mqttResult, agentMs, compactions: compactions.count(), http: httpResult });
  };
  const drainMs = 60_000;
  for (const devices of DEVICES) {
    for (const m of models) {
      await measure(
        m,
        devices,
        `${RATE}/s`,
        ['fixed', { deployment: m.key, devices, rate: RATE, seconds: SECONDS, drainMs }],
        ['http-fixed', { url: m.url, body: m.body, rate: RATE, seconds: SECONDS, timeoutMs: 30_000 }],
      );
      if (MAX_SECONDS > 0) {
        const inflight = Math.min(devices, INFLIGHT);
        await measure(
          m,
          devices,
          `most, ${inflight} in flight`,
          ['closed', { deployment: m.key, devices, inflight, seconds: MAX_SECONDS, drainMs }],
          ['http-closed', { url: m.url, body: m.body, concurrency: inflight, seconds: MAX_SECONDS }],
        );
      }
    }
  }

  // The broker restart: a stream of forecaster readings; the broker stops a third of the way in and comes back.
  const restartSeconds = Number(flags['restart-seconds']);
  const restartDevices = Math.min(10, MAX_DEVICES);
  say(
    `broker restart: ${flags['restart-rate']} readings/s for ${restartSeconds} s to the forecaster (${restartDevices} devices); the broker stops after ${fmt(restartSeconds / 3, 1)} s for ${flags['broker-down']} s …`,
  );
  const stream = generator.call('restart-stream', {
    deployment: 'forecaster',
    devices: restartDevices,
    rate: Number(flags['restart-rate']),
    seconds: restartSeconds,
    drainMs: 120_000,
  });
  await sleep((restartSeconds / 3) * 1000);
  await broker.stop();
  say('  broker stopped (SIGTERM)');
  await sleep(Number(flags['broker-down']) * 1000);
  await broker.start();
  say('  broker started again');
  const restart = await stream;
  say(
    `  published ${restart.published}, acknowledged ${restart.acked}, results ${restart.results}, lost ${restart.lost}, duplicates ${restart.duplicates}`,
  );
  const exited = agent.unexpectedExit();
  if (exited) throw new Error(exited);
  const metrics = await (await fetch(`${agent.url}/metrics`)).text();
  const deadLetters = metrics
    .split('\n')
    .filter((l) => l.startsWith('fogline_mqtt_dead_letters_total'))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
  const loadAfter = os.loadavg();

  // The table.
  console.log(
    `\nbench/mqtt: one agent, EdgeX v3 over a private Mosquitto 2 (QoS 1), load generator in its own process, TCP_NODELAY: ${{ none: 'agent and load generator', broker: 'agent, load generator and broker' }[NODELAY]}; ${os.cpus().length} CPUs, load average ${loadBefore[0].toFixed(2)} before, ${loadAfter[0].toFixed(2)} after; Node ${process.version}`,
  );
  console.log(
    `load ${RATE}/s: offered for ${SECONDS} s, open loop; most: closed loop for ${MAX_SECONDS} s. Latency = result received - reading published (MQTT), answer received - request sent (HTTP). agent ms: the agent's own mean from a reading taken off the broker to its result handed to the broker; compactions: of the binding's log on the agent (a synchronous rewrite and fsync) during the MQTT row\n`,
  );
  for (const m of models) {
    const table = cells
      .filter((c) => c.model === m.label)
      .map((c) => [
        String(c.devices),
        c.load,
        fmt(c.mqtt.sentPerSecond, 0),
        fmt(c.mqtt.resultsPerSecond, 0),
        fmt(c.mqtt.p50, 2),
        fmt(c.mqtt.p99, 2),
        fmt(c.mqtt.max, 1),
        String(c.mqtt.missing),
        fmt(c.agentMs, 2),
        String(c.compactions),
        fmt(c.http.resultsPerSecond, 0),
        fmt(c.http.p50, 2),
        fmt(c.http.p99, 2),
        fmt(c.http.max, 1),
        String(c.http.failed),
      ]);
    console.log(`${m.label} (${m.ref}): MQTT (EdgeX in and out), then the same model's /v2 on the same agent (JSON), same load`);
    console.log(
      renderTable(
        [
          ...['devices', 'load', 'sent/s', 'results/s', 'p50 ms', 'p99 ms', 'max ms', 'missing', 'agent ms', 'compactions'],
          ...['/v2 answers/s', '/v2 p50 ms', '/v2 p99 ms', '/v2 max ms', '/v2 failed'],
        ],
        table,
        (i) => i !== 1,
      ),
    );
    console.log('');
  }
  console.log(
    `Broker restart (private Mosquitto, persistence on, SIGTERM after ${fmt(restartSeconds / 3, 1)} s, down ${flags['broker-down']} s): ` +
      `${restart.published} readings published, ${restart.acked} acknowledged by the broker, ${restart.notAcked} never acknowledged; ` +
      `${restart.results} results received, ${restart.duplicates} duplicates; lost: ${restart.lost}` +
      (restart.lost > 0 ? ` (e.g. ${restart.lostExamples.join(', ')})` : ''),
  );
  console.log(`Dead letters on the agent during the run: ${deadLetters}`);

  const goals = [];
  for (const m of models) {
    const fixedCells = cells.filter((c) => c.model === m.label && c.load === `${RATE}/s`).map((c) => ({ devices: c.devices, ...c.mqtt }));
    const met = fixedCells.every((r) => r.p99 < GOAL_P99_MS && r.missing === 0 && r.sentPerSecond >= RATE * 0.95);
    goals.push([
      `p99 publish -> result < ${GOAL_P99_MS} ms at ${RATE} readings/s, ${m.label}`,
      fixedCells.map((r) => `${r.devices} devices ${fmt(r.p99, 1)} ms${r.missing ? ` (${r.missing} missing)` : ''}`).join(', '),
      met,
    ]);
  }
  goals.push(['0 readings lost across a broker restart', `lost: ${restart.lost}`, restart.lost === 0 && restart.notAcked === 0]);
  console.log('\nGoals:');
  for (const [goal, value, met] of goals) console.log(`  ${goal}: ${value} (${met ? 'met' : 'not met'})`);

  if (flags.json) {
    fs.writeFileSync(
      flags.json,
      JSON.stringify(
        {
          flags,
          machine: { cpus: os.cpus().length, loadBefore: loadBefore[0], loadAfter: loadAfter[0], node: process.version },
          cells,
          restart,
          deadLetters,
          goals: goals.map(([goal, value, met]) => ({ goal, value, met })),
        },
        null,
        2,
      ),
    );
  }
} catch (error) {
  // Interrupted, the calls under way fail as their processes stop: cleanupStack has said why.
  if (!interrupted) console.error(error.stack ?? error);
  process.exitCode = 1;
} finally {
  await cleanups.cleanUp();
}

/** Counts the times `file` shrinks (the agent's ledger compacted) until stop(); polled every 20 ms. */
function watchCompactions(file) {
  let count = 0;
  let last = fs.statSync(file).size; // throws if the agent keeps its log elsewhere: the column would mean nothing
  const timer = setInterval(() => {
    const size = fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0;
    if (size < last) count += 1;
    last = size;
  }, 20);
  return { count: () => count, stop: () => clearInterval(timer) };
}

/** The agent's reading-to-result histogram for a deployment: { sum (s), count }. */
async function agentLatency(url, deployment) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (suffix) =>
    Number(new RegExp(`^fogline_mqtt_result_latency_seconds_${suffix}\\{deployment="${deployment}"\\} (\\S+)`, 'm').exec(text)?.[1] ?? 0);
  return { sum: read('sum'), count: read('count') };
}

/** The agent's mean reading-to-result time (ms) since `before`. */
async function agentMean(url, deployment, before) {
  const after = await agentLatency(url, deployment);
  return after.count > before.count ? ((after.sum - before.sum) / (after.count - before.count)) * 1000 : undefined;
}

/**
 * A private Mosquitto on a free port: persistence on (sessions and queued messages survive a
 * restart), generous queues, its log (subscriptions included) kept. `stop()` is a SIGTERM (the
 * broker saves its state); `start()` brings it back on the same port and directory.
 */
async function startBroker() {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fogline-bench-mqtt-broker-'));
  const conf = path.join(dir, 'mosquitto.conf');
  fs.writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence true',
      `persistence_location ${dir}/`,
      'autosave_interval 1',
      'max_queued_messages 1000000',
      'max_inflight_messages 100',
      ...(NODELAY !== 'none' ? ['set_tcp_nodelay true'] : []),
      'log_dest stderr',
      ...['error', 'warning', 'notice', 'information', 'subscribe'].map((t) => `log_type ${t}`),
      // Started as root, Mosquitto would run as the "mosquitto" user, who cannot write this folder.
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      '',
    ].join('\n'),
  );
  let log = '';
  let lifetime;
  const start = async () => {
    const child = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.on('data', (chunk) => (log = (log + chunk.toString()).slice(-200_000)));
    lifetime = trackChild(child);
    await waitFor(
      () => {
        if (lifetime.exited) throw new Error(`mosquitto exited (${JSON.stringify(lifetime.exited)}):\n${log.slice(-2000)}`);
        return new Promise((resolve) => {
          const socket = net.connect(port, '127.0.0.1', () => {
            socket.destroy();
            resolve(true);
          });
          socket.on('error', () => resolve(false));
        });
      },
      { timeoutMs: 10_000, intervalMs: 50, what: `mosquitto on port ${port}` },
    );
  };
  await start();
  const stop = () => lifetime.stop(10_000);
  return {
    port,
    dir,
    start,
    stop,
    log: () => log,
    remove: async () => {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The load generator, forked: call(cmd, args) → its result; its progress lines printed here. */
function startGenerator() {
  const child = fork(path.join(ROOT, 'bench/mqtt/load-generator.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const lifetime = trackChild(child);
  const waiting = new Map();
  let next = 0;
  child.on('message', (message) => {
    if (message.progress !== undefined) return say(message.progress);
    const pending = waiting.get(message.id);
    waiting.delete(message.id);
    if (message.ok) pending?.resolve(message.result);
    else pending?.reject(new Error(`load generator: ${message.error}`));
  });
  child.on('exit', (code, signal) => {
    for (const { reject } of waiting.values()) reject(new Error(`the load generator exited (code ${code}, signal ${signal})`));
    waiting.clear();
  });
  const call = (cmd, args = {}) =>
    new Promise((resolve, reject) => {
      if (lifetime.exited) return reject(new Error('the load generator has exited'));
      const id = next++;
      waiting.set(id, { resolve, reject });
      child.send({ id, cmd, ...args });
    });
  return {
    call,
    close: async () => {
      if (lifetime.exited) return;
      await Promise.race([call('close').catch(() => undefined), sleep(3000)]);
      await lifetime.stop(3000);
    },
  };
}
