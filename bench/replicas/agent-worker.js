// A child process that runs a share of the simulated fleet (lib/sim-agent.js). Started by run.js
// with child_process.fork; talks to it over IPC:
//   parent -> { type: 'init', agents: [{ index, name, server }], joinToken, labels, dataRoot,
//               enrolConcurrency, cacheLimitBytes }
//   worker -> { type: 'tick', enrolled, started, heartbeated, serving: { <version>: n }, downloads,
//               warnings } every second (downloads and warnings: totals so far)
//   worker -> { type: 'marks', items: [[index, kind, version, epochMs], …] } (batched, every 100 ms)
//   worker -> { type: 'error', message } when an enrolment fails for good
//   parent -> { type: 'stop' }  -> worker stops every agent, sends { type: 'final', … } and exits
import diagnosticsChannel from 'node:diagnostics_channel';
import fs from 'node:fs';
import path from 'node:path';
import { ARTIFACT_DOWNLOAD_CHANNEL, SimAgent, quietLog } from './lib/sim-agent.js';

const DEPLOYMENT = 'digits';
const agents = [];
const byDir = new Map();
let pendingMarks = [];
const downloads = { ok: 0, failed: 0, bytes: 0, failures: [] };
const warnings = { count: 0, samples: [] };
let enrolled = 0;
let started = 0;
let ticker;

const sink = (level, message) => {
  warnings.count++;
  if (warnings.samples.length < 20) warnings.samples.push(`${level}: ${message}`.slice(0, 400));
};

// Every download try, as the agent's metrics see it: the partial file tells the agent apart.
diagnosticsChannel.subscribe(ARTIFACT_DOWNLOAD_CHANNEL, (event) => {
  downloads.bytes += event.bytes;
  if (event.ok) downloads.ok++;
  else {
    downloads.failed++;
    const agent = byDir.get(path.dirname(path.dirname(event.file)));
    if (downloads.failures.length < 20) downloads.failures.push(`${agent?.name ?? '?'} ${event.model} v${event.version}`);
  }
});

process.on('message', (message) => {
  if (message?.type === 'init') {
    init(message).catch((error) => process.send({ type: 'error', message: String(error?.stack ?? error) }));
  } else if (message?.type === 'stop') {
    stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  }
});
process.on('disconnect', () => process.exit(3));

async function init(config) {
  for (const { index, name, server } of config.agents) {
    const dataDir = path.join(config.dataRoot, name);
    fs.mkdirSync(dataDir, { recursive: true });
    const agent = new SimAgent({
      index,
      name,
      server,
      dataDir,
      log: quietLog(sink),
      cacheLimitBytes: config.cacheLimitBytes,
      record: (kind, version, at) => pendingMarks.push([index, kind, version, at]),
    });
    agents.push(agent);
    byDir.set(dataDir, agent);
  }
  ticker = setInterval(tick, 1000);
  setInterval(flushMarks, 100).unref();
  // Enrol a few at a time, starting each agent as soon as it is enrolled (its first heartbeat at once).
  let next = 0;
  const enrolOne = async () => {
    while (next < agents.length) {
      const agent = agents[next++];
      for (let attempt = 1; ; attempt++) {
        try {
          await agent.enrol(config.joinToken, config.labels);
          break;
        } catch (error) {
          if (attempt >= 5) throw new Error(`enrolment of ${agent.name} failed: ${error.message}`);
          await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
        }
      }
      enrolled++;
      agent.start();
      started++;
    }
  };
  await Promise.all(Array.from({ length: config.enrolConcurrency }, enrolOne));
}

function flushMarks() {
  if (pendingMarks.length === 0) return;
  process.send({ type: 'marks', items: pendingMarks });
  pendingMarks = [];
}

function tick() {
  const serving = {};
  let heartbeated = 0;
  for (const agent of agents) {
    if (agent.heartbeated) heartbeated++;
    const version = agent.servingVersion(DEPLOYMENT);
    if (version !== undefined) serving[version] = (serving[version] ?? 0) + 1;
  }
  process.send({
    type: 'tick',
    enrolled,
    started,
    heartbeated,
    serving,
    downloads: { ok: downloads.ok, failed: downloads.failed, bytes: downloads.bytes },
    warnings: warnings.count,
  });
}

async function stop() {
  clearInterval(ticker);
  await Promise.race([Promise.allSettled(agents.map((agent) => agent.stop())), new Promise((resolve) => setTimeout(resolve, 10_000))]);
  flushMarks();
  await new Promise((resolve) => process.send({ type: 'final', downloads, warnings }, resolve));
}
