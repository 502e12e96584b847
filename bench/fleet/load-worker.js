// Load generator: one child process simulates many agents. Each simulated node sends a
// heartbeat every `intervalMs`, at its own phase, over a bounded pool of keep-alive sockets.
// Started by run.js with child_process.fork; talks to it over IPC:
//   parent -> { type: 'init', nodes: [{ id, credential, name, phaseMs }], url, intervalMs, sockets,
//               timeoutMs, startEpochMs, maxRunMs }
//   worker -> { type: 'ready' }, then { type: 'tick', inFlight, sent, completed } every second
//   parent -> { type: 'window', startEpochMs, endEpochMs }   (the measured window, decided live)
//   worker -> { type: 'result', ... } once the window is over and the last heartbeats are back
import http from 'node:http';
import os from 'node:os';
import { performance } from 'node:perf_hooks';

const DRAIN_GRACE_MS = 2_000;

let state; // set by 'init'

process.on('message', (message) => {
  if (message?.type === 'init') {
    run(message).then(
      (result) => process.send({ type: 'result', ...result }, () => process.exit(0)),
      (error) => process.send({ type: 'error', message: String(error?.stack ?? error) }, () => process.exit(1)),
    );
  } else if (message?.type === 'window' && state) {
    state.setWindow(message.startEpochMs, message.endEpochMs);
  } else if (message?.type === 'abort') {
    process.exit(2);
  }
});
process.on('disconnect', () => process.exit(3));

async function run(config) {
  const target = new URL(config.url);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(target.hostname)) throw new Error('loopback only');
  const host = target.hostname.replace(/^\[|\]$/g, '');
  const agent = new http.Agent({ keepAlive: true, maxSockets: config.sockets, maxFreeSockets: config.sockets });
  const nodes = [...config.nodes].sort((a, b) => a.phaseMs - b.phaseMs);
  const n = nodes.length;
  const prepared = nodes.map((node) => ({
    path: `/api/v1/nodes/${node.id}/heartbeat`,
    authorization: `Bearer ${node.credential}`,
    name: node.name,
  }));

  // Align the shared start (wall clock, same for every worker) with this process's monotonic clock.
  const epochToPerf = (epochMs) => performance.now() + (epochMs - Date.now());
  const startPerf = epochToPerf(config.startEpochMs);
  const hardEnd = startPerf + config.maxRunMs; // safety bound if no window ever arrives
  let windowStart = Number.POSITIVE_INFINITY;
  let windowEnd = Number.POSITIVE_INFINITY;
  const inWindow = (t) => t >= windowStart && t < windowEnd;
  const due = (seq) => startPerf + nodes[seq % n].phaseMs + Math.floor(seq / n) * config.intervalMs;

  const latencies = []; // ms, for heartbeats due inside the window (due time -> response end)
  const serviceLatencies = []; // ms, same heartbeats, request() call -> response end
  const scheduledOffsets = []; // ms after the window start at which each of those was due
  let okInWindow = 0; // 200 responses that completed inside the window
  const okInWindowByUpstream = {}; // the same, by X-Fogline-Upstream (the replica nginx chose), when present
  let scheduledInWindow = 0;
  let sent = 0;
  let completed = 0;
  let inFlight = 0;
  let maxInFlight = 0; // whole run
  let maxInFlightInWindow = 0;
  let maxLagMs = 0; // how late the generator itself was in sending (its own event-loop lag), whole run
  const errors = { total: 0, inWindow: 0, byKind: {} };
  const memTotal = os.totalmem();

  state = {
    setWindow(startEpochMs, endEpochMs) {
      windowStart = epochToPerf(startEpochMs);
      windowEnd = windowStart + (endEpochMs - startEpochMs);
    },
  };

  const fire = (seq, scheduled) => {
    const node = prepared[seq % n];
    const body = JSON.stringify({
      resources: {
        cpuCount: 4,
        loadAverage: [Math.random() * 2, Math.random() * 2, Math.random() * 2],
        memoryTotalBytes: memTotal,
        memoryFreeBytes: Math.floor(memTotal * (0.3 + Math.random() * 0.4)),
        diskTotalBytes: 64 * 1024 ** 3,
        diskFreeBytes: Math.floor(32 * 1024 ** 3 * (1 + Math.random() * 0.1)),
        gpus: [],
      },
      agent: {
        version: '0.1.0',
        os: 'linux',
        arch: 'arm64',
        hostname: node.name,
        inferenceUrl: `http://127.0.0.1:9000/${node.name}`,
      },
    });
    const sentAt = performance.now();
    maxLagMs = Math.max(maxLagMs, sentAt - scheduled);
    sent++;
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    if (inWindow(sentAt)) maxInFlightInWindow = Math.max(maxInFlightInWindow, inFlight);
    let finished = false;
    const finish = (kind, upstream) => {
      if (finished) return;
      finished = true;
      inFlight--;
      completed++;
      const doneAt = performance.now();
      if (kind === 'ok') {
        if (inWindow(doneAt)) {
          okInWindow++;
          if (upstream) okInWindowByUpstream[upstream] = (okInWindowByUpstream[upstream] ?? 0) + 1;
        }
        if (inWindow(scheduled)) {
          latencies.push(doneAt - scheduled);
          serviceLatencies.push(doneAt - sentAt);
          scheduledOffsets.push(Math.floor(scheduled - windowStart));
        }
      } else {
        errors.total++;
        if (inWindow(scheduled)) errors.inWindow++;
        errors.byKind[kind] = (errors.byKind[kind] ?? 0) + 1;
      }
    };
    const request = http.request(
      {
        agent,
        host,
        port: target.port,
        method: 'POST',
        path: node.path,
        headers: {
          authorization: node.authorization,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (response) => {
        response.on('data', () => {});
        response.on('end', () =>
          finish(response.statusCode === 200 ? 'ok' : `http_${response.statusCode}`, response.headers['x-fogline-upstream']),
        );
        response.on('error', (error) => finish(error.code ?? 'response_error'));
      },
    );
    request.setTimeout(config.timeoutMs, () => {
      finish('timeout');
      request.destroy();
    });
    request.on('error', (error) => finish(error.code ?? 'request_error'));
    request.end(body);
  };

  const ticker = setInterval(() => process.send({ type: 'tick', inFlight, sent, completed }), 1000);
  process.send({ type: 'ready' });

  // Dispatch loop: heartbeats fall due in a fixed round-robin order, so one timer suffices.
  let seq = 0;
  const end = () => Math.min(windowEnd, hardEnd);
  await new Promise((resolve) => {
    const pump = () => {
      const now = performance.now();
      while (due(seq) <= now && due(seq) < end()) {
        const scheduled = due(seq);
        if (inWindow(scheduled)) scheduledInWindow++;
        fire(seq, scheduled);
        seq++;
      }
      if (due(seq) >= end()) {
        resolve();
        return;
      }
      // Wake for the next due heartbeat, but at least every 100 ms so a new window end is seen.
      setTimeout(pump, Math.min(100, Math.max(0, due(seq) - performance.now())));
    };
    setTimeout(pump, Math.max(0, startPerf - performance.now()));
  });

  // Let the last heartbeats finish (bounded), then report.
  const drainDeadline = performance.now() + config.timeoutMs + DRAIN_GRACE_MS;
  while (inFlight > 0 && performance.now() < drainDeadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  clearInterval(ticker);
  const unfinished = inFlight;
  agent.destroy();
  return {
    nodes: n,
    windowSeen: Number.isFinite(windowStart),
    sent,
    completed,
    unfinished,
    scheduledInWindow,
    okInWindow,
    okInWindowByUpstream,
    maxInFlight,
    maxInFlightInWindow,
    maxLagMs,
    errors,
    latencies,
    serviceLatencies,
    scheduledOffsets,
  };
}
