#!/usr/bin/env node
// bench/mqtt load generator: the devices, the result consumer and the HTTP client, in their OWN
// process (forked once by bench/mqtt/run.js), so that building EdgeX events, parsing results and
// timing them never share an event loop with the agent or the bench's orchestration.
//
// Devices publish EdgeX v3 events (one Float64 reading, QoS 1) to bench/mqtt/in/<deployment>/<device>/load;
// the consumer subscribes (QoS 1) to bench/mqtt/out/#, where the agent publishes each result with
// the input's time as its origin. A result is matched to its reading by deployment + device + that
// time; latency = result received here - reading handed to the MQTT client here (both
// performance.now() of this process).
//
// Protocol (IPC): the parent sends { id, cmd, ...args }; this process answers { id, ok, result } or
// { id, ok: false, error }, and sends { progress: text } lines meanwhile. Commands: init, warmup,
// fixed, closed, http-fixed, http-closed, restart-stream, close (see each function below).
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import mqtt from 'mqtt';
import { post, ROOT, sleep } from '../lib/cluster.js';
import { summarizeLatencies } from '../fleet/lib/stats.js';
import { runLoad } from '../serve/load-generator.js';

const { formatEdgexFloat } = await import(path.join(ROOT, 'dist/devices/edgex-codec.js'));

export const inputTopic = (deployment, device) => `bench/mqtt/in/${deployment}/${device}/load`;
export const inputFilter = (deployment) => `bench/mqtt/in/${deployment}/+/load`;
export const OUTPUT_TEMPLATE = 'bench/mqtt/out/{deployment}/{device}';
const OUTPUT_FILTER = 'bench/mqtt/out/#';
export const deviceName = (i) => `dev-${String(i).padStart(4, '0')}`;

/** Per deployment: its series ({ values, start, intervalSeconds }) and each device's next point. */
const models = new Map();
let brokerUrl;
let publisher;
let consumer;
/** The measurement in progress: reading key → { sentAt, device }; results outside it are ignored. */
let current;

const progress = (text) => process.send({ progress: text });

/** An EdgeX v3 event of `device` with one Float64 reading per point (a device service sends one; the warm-up sends many). */
function edgexEvent(device, points) {
  const ns = (seconds) => `${Math.round(seconds)}000000000`;
  const readings = points.map(
    (p) =>
      `{"id":"${randomUUID()}","origin":${ns(p.time)},"deviceName":"${device}","resourceName":"load","profileName":"meter","valueType":"Float64","value":"${formatEdgexFloat(p.value)}"}`,
  );
  return (
    `{"apiVersion":"v3","id":"${randomUUID()}","deviceName":"${device}","profileName":"meter","sourceName":"load",` +
    `"origin":${ns(points[points.length - 1].time)},"readings":[${readings.join(',')}]}`
  );
}

/** Device i's next `count` points (each one interval after the last), advancing its cursor. */
function nextPoints(model, i, count) {
  const { values, start, intervalSeconds, cursors } = model;
  const points = [];
  for (let c = 0; c < count; c++) {
    const k = cursors[i]++;
    // Devices start at different places in the series, and all on the interval's grid.
    points.push({ time: start + k * intervalSeconds, value: values[(i * 131 + k) % values.length] });
  }
  return points;
}

const key = (deployment, device, time) => `${deployment}/${device}/${time}`;

/** The key of a result: deployment and device from the topic, the input's time from the event's origin (ns). */
function resultKey(topic, payload) {
  const [, , , deployment, device] = topic.split('/');
  const text = payload.toString();
  const origin = /"origin":(\d+)/.exec(text)?.[1] ?? /"time":([\d.]+)/.exec(text)?.[1];
  if (!origin) return undefined;
  const seconds = origin.length > 12 ? Number(origin.slice(0, -9)) : Math.round(Number(origin));
  return key(deployment, device, seconds);
}

function connect(clientId, options = {}) {
  const client = mqtt.connect(brokerUrl, { clientId, protocolVersion: 4, reconnectPeriod: 250, connectTimeout: 10_000, ...options });
  client.on('error', () => undefined); // reconnects on its own; the bench counts what arrives
  // No Nagle on the devices' and the consumer's sockets, as EdgeX's services (Go: TCP_NODELAY by
  // default) have it: a reading is not held back waiting for the ACK of the one before.
  client.on('connect', () => client.stream.setNoDelay?.(true));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${clientId}: no connection to ${brokerUrl} within 10 s`)), 10_000);
    client.once('connect', () => {
      clearTimeout(timer);
      resolve(client);
    });
  });
}

/** Publishes one reading of device i; records it in `track` (key → { sentAt, device }); `acked(error)` on the PUBACK. */
function publishReading(client, deployment, i, track, acked) {
  const model = models.get(deployment);
  const device = deviceName(i);
  const [point] = nextPoints(model, i, 1);
  const payload = edgexEvent(device, [point]);
  const k = key(deployment, device, point.time);
  track.set(k, { sentAt: performance.now(), device: i });
  client.publish(inputTopic(deployment, device), payload, { qos: 1 }, acked);
  return k;
}

/** init { brokerUrl, series: { <deployment>: { values, start, intervalSeconds } }, maxDevices } */
async function init(args) {
  brokerUrl = args.brokerUrl;
  for (const [deployment, series] of Object.entries(args.series)) {
    models.set(deployment, { ...series, cursors: new Int32Array(args.maxDevices) });
  }
  publisher = await connect(`bench-mqtt-devices-${process.pid}`);
  consumer = await connect(`bench-mqtt-consumer-${process.pid}`);
  consumer.on('message', (topic, payload) => {
    const now = performance.now();
    if (!current) return;
    const k = resultKey(topic, payload);
    const sent = k && current.pending.get(k);
    if (!sent) {
      current.unmatched += 1;
      return;
    }
    current.pending.delete(k);
    current.latencies.push(now - sent.sentAt);
    current.sentAt.push(sent.sentAt);
    current.lastResultAt = now;
    current.onResult?.(sent.device);
  });
  await consumer.subscribeAsync(OUTPUT_FILTER, { qos: 1 });
  return { subscribed: OUTPUT_FILTER };
}

function newMeasurement() {
  current = { pending: new Map(), latencies: [], sentAt: [], unmatched: 0, lastResultAt: undefined, onResult: undefined };
  return current;
}

/** Waits until nothing is pending, or `idleMs` pass without a result, or `maxMs` in all. */
async function drain(run, { idleMs, maxMs, label }) {
  const started = performance.now();
  let lastCount = run.latencies.length;
  let lastChange = started;
  let lastSaid = started;
  while (run.pending.size > 0) {
    const now = performance.now();
    if (run.latencies.length !== lastCount) {
      lastCount = run.latencies.length;
      lastChange = now;
    }
    if (now - lastChange > idleMs || now - started > maxMs) break;
    if (now - lastSaid > 5000) {
      progress(`${label}: waiting for ${run.pending.size} results …`);
      lastSaid = now;
    }
    await sleep(5);
  }
}

/**
 * warmup { deployment, devices, readings }: fills the windows of devices 0..devices-1 up to
 * `readings` points each (those not yet that far), one event per device holding all its missing
 * readings, as fast as the broker takes them; waits for the result each last reading yields.
 */
async function warmup({ deployment, devices, readings, timeoutMs }) {
  const model = models.get(deployment);
  const run = newMeasurement();
  const started = performance.now();
  let messages = 0;
  for (let i = 0; i < devices; i++) {
    const missing = readings - model.cursors[i];
    if (missing <= 0) continue;
    const device = deviceName(i);
    const points = nextPoints(model, i, missing);
    run.pending.set(key(deployment, device, points[points.length - 1].time), { sentAt: performance.now(), device: i });
    publisher.publish(inputTopic(deployment, device), edgexEvent(device, points), { qos: 1 });
    messages += 1;
    // Let the socket drain now and then: a thousand 40 kB events at once would sit in memory.
    if (messages % 50 === 0) await sleep(1);
  }
  await drain(run, { idleMs: timeoutMs, maxMs: timeoutMs, label: `warm-up ${deployment}` });
  current = undefined;
  if (run.pending.size > 0) throw new Error(`warm-up of ${deployment}: ${run.pending.size} devices never answered`);
  return { messages, seconds: (performance.now() - started) / 1000 };
}

/** What a measurement gives: readings sent and acknowledged, results matched, latencies, rates. */
function summary(run, { sent, acked, failed, started, publishSeconds }) {
  const latency = summarizeLatencies(run.latencies);
  const resultSeconds = ((run.lastResultAt ?? performance.now()) - started) / 1000;
  return {
    sent,
    acked,
    failed,
    results: run.latencies.length,
    missing: sent - run.latencies.length,
    unmatched: run.unmatched,
    sentPerSecond: sent / publishSeconds,
    resultsPerSecond: run.latencies.length / resultSeconds,
    ...latency,
    perSecond: perSecond(run, started),
  };
}

/** p50, p99 and max of the readings sent in each second of the row: where in it the slow ones were. */
function perSecond(run, started) {
  const buckets = [];
  run.latencies.forEach((latency, i) => {
    const second = Math.floor((run.sentAt[i] - started) / 1000);
    (buckets[second] ??= []).push(latency);
  });
  return Array.from(buckets, (b) => {
    const { count, p50, p99, max } = summarizeLatencies(b ?? []);
    return { count, p50, p99, max };
  });
}

/**
 * fixed { deployment, devices, rate, seconds, drainMs }: open loop: `rate` readings per second for
 * `seconds`, whatever the results do, round-robin over the devices (each reading one interval after
 * its device's last); then waits for the results still due.
 */
async function fixed({ deployment, devices, rate, seconds, drainMs }) {
  const run = newMeasurement();
  const total = Math.round(rate * seconds);
  let sent = 0;
  let acked = 0;
  let failed = 0;
  const onAck = (error) => (error ? (failed += 1) : (acked += 1));
  const started = performance.now();
  let lastSaid = started;
  while (sent < total) {
    const now = performance.now();
    const due = Math.min(total, Math.floor(((now - started) / 1000) * rate) + 1);
    for (; sent < due; sent++) publishReading(publisher, deployment, sent % devices, run.pending, onAck);
    if (now - lastSaid > 2000) {
      progress(`  ${sent}/${total} sent, ${run.latencies.length} results`);
      lastSaid = now;
    }
    await sleep(1);
  }
  const publishSeconds = (performance.now() - started) / 1000;
  await drain(run, { idleMs: 5000, maxMs: drainMs, label: 'fixed rate' });
  current = undefined;
  return summary(run, { sent, acked, failed, started, publishSeconds });
}

/**
 * closed { deployment, devices, inflight, seconds }: the most the path sustains: `inflight`
 * readings outstanding at all times (the next one goes out when a result comes back), round-robin
 * over the devices, for `seconds`.
 */
async function closed({ deployment, devices, inflight, seconds, drainMs }) {
  const run = newMeasurement();
  let sent = 0;
  let acked = 0;
  let failed = 0;
  const onAck = (error) => (error ? (failed += 1) : (acked += 1));
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const next = () => publishReading(publisher, deployment, sent++ % devices, run.pending, onAck);
  run.onResult = () => {
    if (performance.now() < deadline) next();
  };
  for (let i = 0; i < inflight; i++) next();
  while (performance.now() < deadline) await sleep(20);
  const publishSeconds = (performance.now() - started) / 1000;
  await drain(run, { idleMs: 5000, maxMs: drainMs, label: 'closed loop' });
  current = undefined;
  const result = summary(run, { sent, acked, failed, started, publishSeconds });
  // Results that came back within the measured time, per second: what the path sustained.
  return { ...result, resultsPerSecond: result.results / ((Math.max(run.lastResultAt ?? 0, deadline) - started) / 1000) };
}

/** http-fixed { url, body, rate, seconds, timeoutMs }: open-loop V2 requests at `rate`; latency from each request's start. */
async function httpFixed({ url, body, rate, seconds, timeoutMs }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  for (let i = 0; i < 20; i++) await post(url, body, { agent, timeoutMs }); // warm-up: JIT, sockets
  const total = Math.round(rate * seconds);
  const latencies = [];
  const pending = [];
  let failed = 0;
  let firstFailure;
  let sent = 0;
  const started = performance.now();
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate) + 1);
    for (; sent < due; sent++) {
      const t0 = performance.now();
      pending.push(
        post(url, body, { agent, timeoutMs }).then(
          () => latencies.push(performance.now() - t0),
          (error) => {
            failed += 1;
            firstFailure ??= error.message;
          },
        ),
      );
    }
    await sleep(1);
  }
  const publishSeconds = (performance.now() - started) / 1000;
  await Promise.all(pending);
  const seconds_ = (performance.now() - started) / 1000;
  agent.destroy();
  return {
    sent,
    failed,
    results: latencies.length,
    missing: failed,
    sentPerSecond: sent / publishSeconds,
    resultsPerSecond: latencies.length / seconds_,
    ...summarizeLatencies(latencies),
    ...(firstFailure ? { firstFailure } : {}),
  };
}

/** http-closed { url, body, concurrency, seconds }: bench/serve's closed-loop load (concurrency requests in flight). */
async function httpClosed({ url, body, concurrency, seconds }) {
  const result = await runLoad({ url, body, concurrency, durationMs: seconds * 1000, warmupRequests: 50 });
  return {
    sent: result.requests + result.failures,
    failed: result.failures,
    results: result.requests,
    missing: result.failures,
    sentPerSecond: (result.requests + result.failures) / result.seconds,
    resultsPerSecond: result.rps,
    p50: result.p50,
    p99: result.p99,
    max: result.max,
    ...(result.firstFailure ? { firstFailure: result.firstFailure } : {}),
  };
}

/**
 * restart-stream { deployment, devices, rate, seconds, drainMs }: a device client and a result
 * consumer of their own, each with a persistent session (clean: false, fixed client ids, QoS 1),
 * publishing `rate` readings/s for `seconds` while the parent stops and restarts the broker. The
 * device client keeps what it cannot send while the broker is away (mqtt.js's outgoing store) and
 * sends it on reconnecting. Counts readings acknowledged by the broker (PUBACK) and the results
 * that came back for them: lost = acknowledged readings that never got a result.
 */
async function restartStream({ deployment, devices, rate, seconds, drainMs }) {
  const devicesClient = await connect('bench-mqtt-restart-devices', { clean: false });
  const resultsClient = await connect('bench-mqtt-restart-results', { clean: false });
  for (const [client, name] of [
    [devicesClient, 'device client'],
    [resultsClient, 'result consumer'],
  ]) {
    client.on('offline', () => progress(`  ${name}: broker gone`));
    client.on('connect', (ack) => progress(`  ${name}: connected again (session present: ${ack.sessionPresent})`));
  }
  const track = new Map();
  const ackedKeys = new Set();
  const answered = new Set();
  let duplicates = 0;
  let failed = 0;
  resultsClient.on('message', (topic, payload) => {
    const k = resultKey(topic, payload);
    if (!k || !track.has(k)) return;
    if (answered.has(k)) duplicates += 1;
    else answered.add(k);
  });
  await resultsClient.subscribeAsync(OUTPUT_FILTER, { qos: 1 });
  const total = Math.round(rate * seconds);
  let sent = 0;
  const started = performance.now();
  let lastSaid = started;
  while (sent < total) {
    const now = performance.now();
    const due = Math.min(total, Math.floor(((now - started) / 1000) * rate) + 1);
    for (; sent < due; sent++) {
      const k = publishReading(devicesClient, deployment, sent % devices, track, (error) => (error ? (failed += 1) : ackedKeys.add(k)));
    }
    if (now - lastSaid > 1000) {
      progress(`  ${sent}/${total} published, ${ackedKeys.size} acknowledged, ${answered.size} results`);
      lastSaid = now;
    }
    await sleep(1);
  }
  // Everything sent must be acknowledged (or fail), and every acknowledged reading answered, or time runs out.
  const deadline = performance.now() + drainMs;
  let lastCount = -1;
  let lastChange = performance.now();
  while (performance.now() < deadline) {
    const settled = ackedKeys.size + failed === sent;
    const unanswered = [...ackedKeys].filter((k) => !answered.has(k)).length;
    if (settled && unanswered === 0) break;
    if (answered.size !== lastCount) {
      lastCount = answered.size;
      lastChange = performance.now();
    }
    if (performance.now() - lastChange > 15_000) break;
    if (performance.now() - lastSaid > 2000) {
      progress(`  waiting: ${sent - ackedKeys.size - failed} not yet acknowledged, ${unanswered} acknowledged without a result`);
      lastSaid = performance.now();
    }
    await sleep(50);
  }
  const lost = [...ackedKeys].filter((k) => !answered.has(k));
  const result = {
    published: sent,
    acked: ackedKeys.size,
    notAcked: sent - ackedKeys.size - failed,
    failed,
    results: answered.size,
    duplicates,
    lost: lost.length,
    lostExamples: lost.slice(0, 5),
    // Results for readings the broker never acknowledged (received before the broker went down).
    answeredNotAcked: [...answered].filter((k) => !ackedKeys.has(k)).length,
    seconds: (performance.now() - started) / 1000,
  };
  // Leave no session behind on the broker.
  await Promise.all([devicesClient, resultsClient].map((c) => c.endAsync().catch(() => undefined)));
  return result;
}

const commands = {
  init,
  warmup,
  fixed,
  closed,
  'http-fixed': httpFixed,
  'http-closed': httpClosed,
  'restart-stream': restartStream,
  close: async () => {
    await Promise.all([publisher, consumer].map((c) => c?.endAsync().catch(() => undefined)));
    setImmediate(() => process.exit(0));
    return {};
  },
};

if (import.meta.url === `file://${process.argv[1]}`) {
  if (!process.send) {
    console.log('bench/mqtt/load-generator.js is forked by bench/mqtt/run.js (IPC); run that instead: node bench/mqtt/run.js --help');
    process.exit(2);
  }
  process.on('message', async ({ id, cmd, ...args }) => {
    try {
      process.send({ id, ok: true, result: await commands[cmd](args) });
    } catch (error) {
      process.send({ id, ok: false, error: error.stack ?? String(error) });
    }
  });
  process.on('disconnect', () => process.exit(0));
}
