// One simulated agent, built from the real agent's code in dist/: enrolment with a join token
// (ApiClient.enroll, registry key pinned from the answer), HeartbeatLoop, and the deployment sync
// wired as src/agent/sync/deployment-sync.ts wires it (ControlPlaneLink, RegistryKey, ArtifactCache,
// AgentStateFiles, StatusReporter, Reconciler, DesiredStateWatcher): real desired-state long polls,
// ranged artifact downloads, sha256 and ed25519 signature checks, status reports.
//
// Left out: the predictor. DeployedModels is replaced by ServedVersions below, which takes the
// verified bundle and records it as served without loading it (no ONNX Runtime session, no
// warm-up, no inference server, no drift, offload, sessions or federated client).
import path from 'node:path';
import { ROOT } from '../../lib/cluster.js';

const dist = (file) => import(path.join(ROOT, 'dist', file));
const { ApiClient } = await dist('client/api-client.js');
const { HeartbeatLoop } = await dist('agent/heartbeat-loop.js');
const { ControlPlaneLink } = await dist('agent/sync/control-plane-link.js');
const { RegistryKey } = await dist('agent/artifacts/registry-key.js');
const { ArtifactCache } = await dist('agent/artifacts/artifact-cache.js');
const { AgentStateFiles } = await dist('agent/sync/agent-state-files.js');
const { StatusReporter } = await dist('agent/sync/status-reporter.js');
const { Reconciler } = await dist('agent/sync/reconciler.js');
const { DesiredStateWatcher } = await dist('agent/sync/desired-state-watcher.js');
export const { ARTIFACT_DOWNLOAD_CHANNEL } = await dist('agent/artifacts/download-artifact.js');

const GiB = 1024 ** 3;

/** The part of DeployedModels the Reconciler uses, without a predictor: a verified bundle is "served" as it is. */
class ServedVersions {
  constructor(onLoad) {
    this.onLoad = onLoad;
    this.slots = new Map();
  }
  expect() {}
  names() {
    return [...this.slots.keys()];
  }
  serving(name) {
    return this.slots.get(name);
  }
  configure() {}
  async load(bytes, deployment) {
    this.onLoad(deployment, bytes.length);
    return { predictor: { dispose() {} }, version: deployment.version, sha256: deployment.sha256 };
  }
  async put(name, loaded) {
    this.slots.set(name, { version: loaded.version, sha256: loaded.sha256 });
  }
  async remove(name) {
    this.slots.delete(name);
  }
  usage() {
    return undefined;
  }
}

/**
 * `record(kind, version, at)` hears, per deployed version: `desired` (the first desired state
 * naming it), `loaded` (bundle downloaded and verified, handed to the runtime), `served` (a status
 * report saying serving was acknowledged by the control plane: 204), `failed` (a report saying failed).
 */
export class SimAgent {
  constructor({ index, name, server, dataDir, log, record, cacheLimitBytes }) {
    Object.assign(this, { index, name, server, dataDir, log, record, cacheLimitBytes });
    this.seen = { desired: new Set(), loaded: new Set(), served: new Set(), failed: new Set() };
    this.models = new ServedVersions((deployment) => this.mark('loaded', deployment.version));
  }

  mark(kind, version) {
    if (this.seen[kind].has(version)) return;
    this.seen[kind].add(version);
    this.record(kind, version, Date.now());
  }

  async enrol(joinToken, labels) {
    const enrolled = await new ApiClient({ server: this.server, timeoutMs: 60_000 }).enroll(joinToken, {
      name: this.name,
      role: 'edge',
      labels,
    });
    this.nodeId = enrolled.nodeId;
    this.credential = enrolled.credential;
    // As the agent does: the registry key comes with the enrolment and is pinned before any bundle arrives.
    if (enrolled.registryPublicKey)
      new RegistryKey(this.dataDir, () => Promise.reject(new Error('offline'))).pin(enrolled.registryPublicKey);
  }

  start() {
    const { server, nodeId, credential, log, name } = this;
    const agentInfo = {
      version: 'bench',
      os: 'linux (simulated)',
      arch: process.arch,
      hostname: name,
      inferenceUrl: `http://127.0.0.1:9/${name}`,
      runtimes: ['onnx', 'tfjs'],
    };
    const resources = {
      cpuCount: 4,
      loadAverage: [0.2, 0.2, 0.2],
      memoryTotalBytes: 4 * GiB,
      memoryFreeBytes: 2 * GiB,
      diskTotalBytes: 64 * GiB,
      diskFreeBytes: 32 * GiB,
      gpus: [],
    };
    this.heartbeats = new HeartbeatLoop(
      new ApiClient({ server, token: credential }),
      nodeId,
      15_000,
      async () => ({ resources, agent: agentInfo }),
      log,
    );
    this.heartbeats.start();

    // startDeploymentSync's wiring, with ServedVersions for DeployedModels and a report hook.
    const link = new ControlPlaneLink(server, nodeId, credential);
    const key = new RegistryKey(this.dataDir, () => link.registryPublicKey());
    const cache = new ArtifactCache(this.dataDir, key, link, this.cacheLimitBytes);
    const files = new AgentStateFiles(this.dataDir);
    this.status = new StatusReporter(async (report) => {
      await link.reportStatus(report);
      for (const deployment of report.deployments) {
        if (deployment.state === 'serving' && deployment.version !== null) this.mark('served', deployment.version);
        if (deployment.state === 'failed' && deployment.version !== null) this.mark('failed', deployment.version);
      }
    }, log);
    this.reconciler = new Reconciler(this.models, cache, files, this.status, log);
    this.watcher = new DesiredStateWatcher(
      link,
      (state, changed) => {
        for (const deployment of state.deployments) this.mark('desired', deployment.version);
        if (changed) files.saveDesired(state);
        void this.reconciler.apply(state.deployments, changed);
      },
      () => this.status.flush(),
      log,
    );
    this.watcher.start();
  }

  get heartbeated() {
    return this.heartbeats?.state.lastSuccessAt != null;
  }

  servingVersion(deployment) {
    return this.models.serving(deployment)?.version;
  }

  async stop() {
    await Promise.allSettled([this.watcher?.stop(), this.heartbeats?.stop()]);
    await Promise.allSettled([this.reconciler?.stop(), this.status?.stop()]);
  }
}

/** A FastifyBaseLogger that drops info and below and hands warnings and errors to `sink(level, message)`. */
export function quietLog(sink) {
  const text = (first, second) => (typeof first === 'string' ? first : (second ?? JSON.stringify(first)));
  const log = {
    level: 'warn',
    silent() {},
    trace() {},
    debug() {},
    info() {},
    warn: (first, second) => sink('warn', text(first, second)),
    error: (first, second) => sink('error', text(first, second)),
    fatal: (first, second) => sink('fatal', text(first, second)),
    child: () => log,
  };
  return log;
}
