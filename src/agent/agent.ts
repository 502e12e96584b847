import { pinCertificateAuthority } from '../http/tls.js';
import { listenError } from '../http/listen-error.js';
import { REDACTING_LOG_SERIALIZERS } from '../http/redact-url.js';
import { sweepTemporaryFiles } from '../files/temporary-files.js';
import { ensureWritableDir } from '../files/writable-dir.js';
import os from 'node:os';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { ApiClient } from '../client/api-client.js';
import { ApiError } from '../client/api-error.js';
import type { AGENT_OPTIONS } from '../config/agent-options.js';
import type { ResolvedOptions } from '../config/options.js';
import type { AgentInfo, NodeResources } from '../contracts/nodes.js';
import { inferenceCall } from '../inference/inference-call.js';
import { v2Routes } from '../inference/v2-routes.js';
import { v2StreamRoutes } from '../inference/v2-stream.js';
import { AgentMetrics } from './metrics/agent-metrics.js';
import { onnxRuntimeProblem } from '../ml/onnx-runtime/onnx-runtime-module.js';
import { BUILD, VERSION } from '../version.js';
import { backoffDelay } from './backoff.js';
import { HeartbeatLoop } from './heartbeat-loop.js';
import { NodeCredentials } from './node-credentials.js';
import { loadNodeIdentity, NODE_IDENTITY_FILE, type NodeIdentity, saveNodeIdentity } from './node-identity.js';
import { detectGpus, readResources } from './resources.js';
import { DEFAULT_THRESHOLDS } from './offload/decide.js';
import { OffloadingModels } from './offload/offloading-models.js';
import { REGISTRY_KEY_FILE, RegistryKey } from './artifacts/registry-key.js';
import { sessionGate } from '../sessions/session-gate.js';
import { sessionReporter } from './sessions/session-reporter.js';
import { DriftMonitoredModels } from './drift/drift-models.js';
import { DriftReporter } from './drift/drift-reporter.js';
import { driftRoutes } from './drift/drift-routes.js';
import path from 'node:path';
import { DeployedModels } from './runtime/deployed-models.js';
import { EdgeGuard } from './edge-auth/edge-guard.js';
import { edgeHttpsOptions, isLoopback } from './edge-auth/edge-tls.js';
import { type DeploymentSync, startDeploymentSync } from './sync/deployment-sync.js';
import { MqttBindings } from './devices/mqtt-bindings.js';
import { DeviceMetrics } from './metrics/device-metrics.js';

const DEFAULT_SERVER = 'http://127.0.0.1:7070';

export type AgentConfig = ResolvedOptions<typeof AGENT_OPTIONS>;

export interface RunningAgent {
  identity: NodeIdentity;
  url: string;
  http: FastifyInstance;
  heartbeats: HeartbeatLoop;
  models: DeployedModels;
  /** The V2 source the agent serves: its models, with requests offloaded per each deployment's policy. */
  offloading: OffloadingModels;
  deployments: DeploymentSync;
  /**
   * Settles with what to do when the control plane refuses this node's credential for good
   * (revoked, unknown, expired): the heartbeats have stopped, and the caller stops the agent.
   */
  credentialRefused: Promise<string>;
  stop(): Promise<void>;
}

/** Starts an agent: its own HTTP server, enrolment (first start only) and the heartbeat loop. */
export async function startAgent(config: AgentConfig): Promise<RunningAgent> {
  ensureWritableDir(config.dataDir, '--data-dir (FOGLINE_AGENT_DATA_DIR)');
  // Files a killed agent left half-written (node.json, the desired state, the registry key).
  const swept = sweepTemporaryFiles(config.dataDir);
  const https = edgeHttpsOptions(config);
  pinCertificateAuthority(config.ca);
  // Requests are logged with their URL's ?session= (and ?token=) values redacted: they are credentials.
  const http = Fastify({ logger: { level: config.logLevel, serializers: REDACTING_LOG_SERIALIZERS }, ...(https ? { https } : {}) });
  // Who may call /v2 and /metrics (--edge-auth): checked before any route, with the tokens of the desired state.
  const guard = new EdgeGuard(config.edgeAuth);
  guard.install(http);
  const metrics = new AgentMetrics({ dataDir: config.dataDir });
  metrics.install(http);
  const log = http.log;
  if (swept.length > 0) log.info({ removed: swept }, 'removed temporary files a stopped process left behind');
  // Routes must exist before listening; they read the parts that enrolment creates later.
  let identity: NodeIdentity | undefined;
  let heartbeats: HeartbeatLoop | undefined;
  http.get('/healthz', async () => ({
    status: 'ok',
    version: VERSION,
    build: BUILD.build,
    nodeId: identity?.nodeId ?? null,
    nodeName: identity?.nodeName ?? null,
  }));
  http.get('/readyz', async (_request, reply) => {
    const lastSuccessAt = heartbeats?.state.lastSuccessAt ?? null;
    return reply.status(lastSuccessAt ? 200 : 503).send({
      status: lastSuccessAt ? 'ready' : 'starting',
      nodeId: identity?.nodeId ?? null,
      lastHeartbeatAt: lastSuccessAt && new Date(lastSuccessAt).toISOString(),
      lastError: heartbeats?.state.lastError ?? null,
    });
  });
  // Deployed models on the Open Inference Protocol; who may call them is the EdgeGuard's to say (--edge-auth).
  const models = new DeployedModels({
    observer: metrics.serving,
    batching: { maxBatchSize: config.maxBatchSize, maxDelayMs: config.maxBatchDelayMs },
    load: {
      isolation: config.predictorIsolation,
      bundle: {
        runtime: config.runtime,
        onnx: { intraOpThreads: config.onnxThreads, executionProvider: config.onnxProvider },
      },
      onCrash: ({ reason, restarted }) => log.error({ reason, restarted }, 'a model worker stopped'),
    },
  });
  const offloading = new OffloadingModels(models, {
    observer: metrics.offload,
    cloudTimeoutMs: config.offloadTimeoutMs,
    overload: config.offloadOverload,
    thresholds: { ...DEFAULT_THRESHOLDS, cpuLoadPerCore: config.offloadCpuLoad > 0 ? config.offloadCpuLoad : Infinity },
  });
  metrics.watchOffload(
    () => offloading.breakerState(),
    () => offloading.estimates(),
  );
  // Drift statistics of every answered request, per deployed version (src/agent/drift).
  const drift = new DriftMonitoredModels(offloading, (name) => models.serving(name));
  await http.withTypeProvider<TypeBoxTypeProvider>().register(v2Routes(drift, 'public'));
  // Sessions placed here by the control plane: tokens signed with the registry key this node pins.
  const sessions = sessionGate({
    required: config.streamSessions === 'required',
    publicKey: () => new RegistryKey(config.dataDir, () => Promise.reject(new Error('offline'))).pinned(),
    holder: () => identity?.nodeId,
    modelClaim: (name) => name,
    // Retried while the control plane is away: sessions are stored there, so a late close still frees the place.
    report: sessionReporter({
      target: () => identity && { server: config.server ?? identity.server, nodeId: identity.nodeId, credential: identity.credential },
      warn: (details, message) => log.warn(details, message),
    }),
  });
  await http.withTypeProvider<TypeBoxTypeProvider>().register(v2StreamRoutes(drift, 'public', sessions));
  await http.withTypeProvider<TypeBoxTypeProvider>().register(driftRoutes(drift));
  try {
    await http.listen({ host: config.host, port: config.port });
  } catch (error) {
    await http.close();
    throw listenError(error, { host: config.host, port: config.port, what: 'agent' });
  }
  const address = http.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = config.advertiseUrl ?? defaultAdvertiseUrl(config.host, port, https ? 'https' : 'http');

  try {
    identity = await ensureEnrolled(config, url, log);
  } catch (error) {
    await http.close();
    throw error;
  }
  const server = config.server ?? identity.server;
  // Every part reads the credential for each request: a rotation (heartbeat answers) reaches them all at once.
  const credentials = new NodeCredentials(config.dataDir, identity);
  const credential = credentials.current;
  const client = new ApiClient({ server, token: credential });
  // The control plane calls this agent where it was enrolled (or moved by an operator), never where
  // a heartbeat says: tell whoever restarted it on another address what to do.
  const enrolledAs = identity.nodeName;
  void client
    .getNode(identity.nodeId)
    .then((view) => {
      if (view.inferenceUrl !== null && view.inferenceUrl !== url) {
        log.warn(
          { registered: view.inferenceUrl, url },
          `the control plane calls this agent at ${view.inferenceUrl}, but it serves at ${url}: start it there (--port, --advertise-url) or run fogline nodes set-url ${enrolledAs} ${url}`,
        );
      }
    })
    .catch(() => undefined);
  // Offloaded requests go to the control plane's /v2 with this node's credential. A cloud node is
  // where offloaded work lands (the control plane balances across cloud nodes): it never offloads.
  if (config.role !== 'cloud') offloading.connect({ server, credential, nodeName: identity.nodeName });
  const gpus = await detectGpus();
  // Placement sends ONNX-only models (imported ones) only to nodes where ONNX Runtime loads.
  const onnxProblem = await onnxRuntimeProblem();
  if (onnxProblem) log.warn({ reason: onnxProblem }, 'ONNX Runtime is not available: this node serves TensorFlow.js models only');
  const agentInfo: AgentInfo = {
    version: VERSION,
    os: `${os.platform()} ${os.release()}`,
    arch: os.arch(),
    hostname: os.hostname(),
    inferenceUrl: url,
    runtimes: onnxProblem ? ['tfjs'] : ['onnx', 'tfjs'],
  };
  const collect = async (): Promise<{ resources: NodeResources; agent: AgentInfo }> => ({
    resources: await readResources(config.dataDir, gpus),
    agent: agentInfo,
  });
  const node = { nodeId: identity.nodeId, nodeName: identity.nodeName, role: config.role, version: VERSION };
  metrics.setNode(node, async () => (await collect()).resources);
  let refused: (message: string) => void = () => undefined;
  const credentialRefused = new Promise<string>((resolve) => (refused = resolve));
  const enrolled = identity;
  let waitingForApproval = false;
  heartbeats = new HeartbeatLoop(
    client,
    identity.nodeId,
    15_000,
    collect,
    log,
    (error) => {
      const message = credentialRefusedMessage(error, enrolled, config.dataDir);
      log.error({ code: error.code }, message);
      refused(message);
    },
    (answer) => {
      if ((answer.pendingApproval === true) !== waitingForApproval) {
        waitingForApproval = answer.pendingApproval === true;
        if (waitingForApproval) {
          log.warn(`this node waits for an operator's approval (fogline nodes approve ${enrolled.nodeName}): until then it gets no work`);
        } else {
          log.info('this node is approved: it may take work now');
        }
      }
      if (answer.newCredential) {
        try {
          credentials.replace(answer.newCredential.credential);
          identity = credentials.identity;
          log.info(
            { expiresAt: answer.newCredential.expiresAt },
            `the control plane gave this node a new credential: saved to ${NODE_IDENTITY_FILE} and in use`,
          );
        } catch (error) {
          log.error(
            { err: error },
            `could not save the new credential to ${NODE_IDENTITY_FILE}: keeping the current one (the control plane offers another with the next heartbeat)`,
          );
        }
      }
    },
  );
  heartbeats.start();
  // Device data over MQTT: the deployments with a binding, fed from the broker (src/agent/devices).
  const bindings = new MqttBindings({
    broker: config.mqttUrl
      ? {
          url: config.mqttUrl,
          ...(config.mqttUsername !== undefined ? { username: config.mqttUsername } : {}),
          ...(config.mqttPassword !== undefined ? { password: config.mqttPassword } : {}),
          ...(config.mqttCa !== undefined ? { ca: config.mqttCa } : {}),
          ...(config.mqttCert !== undefined ? { cert: config.mqttCert } : {}),
          ...(config.mqttKey !== undefined ? { key: config.mqttKey } : {}),
        }
      : undefined,
    clientId: `fogline-${identity.nodeId}`,
    dataDir: config.dataDir,
    infer: (name, request) => drift.infer(inferenceCall(name, undefined, request)),
    intervalSeconds: (name, wanted) => drift.seriesIntervalSeconds(name, wanted),
    recordActual: (name, time, value) => void drift.recordActuals(name, time, [value]).catch(() => undefined),
    observer: new DeviceMetrics(metrics.registry),
    // Set once the deployment sync has started; a subscription acknowledged before then is reported with the next report.
    onSubscribed: () => (deployments as DeploymentSync | undefined)?.reportNow(),
    log,
  });
  let deployments: DeploymentSync;
  try {
    deployments = await startDeploymentSync(
      {
        dataDir: config.dataDir,
        server,
        nodeId: identity.nodeId,
        credential,
        cacheLimitBytes: config.cacheLimitBytes,
        ranWhere: (name) => offloading.ranWhere(name),
        offload: offloading.settings,
        deviceCounts: (name) => bindings.counts().get(name),
        onDesiredState: (state) => {
          guard.update(state);
          bindings.update(state);
        },
      },
      models,
      log,
    );
  } catch (error) {
    await heartbeats.stop();
    await bindings.stop();
    await http.close();
    throw error;
  }
  // Federated learning: only on nodes given their own data (--fl-data); it never leaves the node.
  // Its client is imported only there (each round trains in a worker thread of its own).
  const federated = config.flData
    ? (await import('./federated/federated-client.js')).startFederatedClient(
        { server, nodeId: identity.nodeId, credential, dataPath: config.flData },
        log,
      )
    : undefined;
  const driftReporter = new DriftReporter(drift, { server, nodeId: identity.nodeId, credential }, log);
  driftReporter.start();
  log.info({ nodeId: identity.nodeId, name: identity.nodeName, server, url, edgeAuth: config.edgeAuth }, 'agent started');
  if (config.edgeAuth === 'open' && !isLoopback(config.host)) {
    log.warn(
      { host: config.host },
      'inference and metrics are open to anyone who can reach this port (--edge-auth open): use --edge-auth token or mtls outside a lab',
    );
  }
  if (config.edgeAuth === 'mtls' && config.role === 'cloud') {
    log.warn(
      'the control plane presents no client certificate: with --edge-auth mtls it cannot use this cloud node as a replica (use --edge-auth token)',
    );
  }

  const running = heartbeats;
  return {
    identity,
    url,
    http,
    heartbeats,
    models,
    offloading,
    deployments,
    credentialRefused,
    async stop() {
      await driftReporter.stop();
      await bindings.stop();
      await federated?.stop();
      await deployments.stop();
      await running.stop();
      await http.close();
      await models.close();
    },
  };
}

/** What to do once the control plane refuses the node's credential: enrol again (the node was deleted or its credential revoked). */
function credentialRefusedMessage(error: ApiError, identity: NodeIdentity, dataDir: string): string {
  const why =
    error.code === 'FOGLINE_ERR_AUTH_EXPIRED'
      ? 'its credential has expired'
      : error.code === 'FOGLINE_ERR_AUTH_REVOKED'
        ? 'the node was deleted or its credential revoked'
        : 'the control plane does not know its credential (another control plane, or a database started afresh)';
  return (
    `The control plane refuses node ${identity.nodeName} (${error.code}: ${why}); retrying will not help, so the agent stops. ` +
    `To enrol it again: delete ${path.join(dataDir, NODE_IDENTITY_FILE)} and start the agent with --join-token <token> ` +
    `(an admin creates one with: fogline token create --role join)`
  );
}

/** Uses the stored credential when there is one; enrols with the join token otherwise. */
async function ensureEnrolled(config: AgentConfig, url: string, log: FastifyBaseLogger): Promise<NodeIdentity> {
  const stored = loadNodeIdentity(config.dataDir);
  if (stored) {
    if (stored.nodeName !== config.name) {
      log.warn({ stored: stored.nodeName, flag: config.name }, 'this data dir is enrolled under another name; keeping the enrolled one');
    }
    return stored;
  }
  if (!config.joinToken) {
    throw new Error(
      `This agent is not enrolled yet (no node.json in ${config.dataDir}): pass --join-token (create one with: fogline token create --role join)`,
    );
  }
  const server = config.server ?? DEFAULT_SERVER;
  const client = new ApiClient({ server });
  for (let attempt = 1; ; attempt++) {
    try {
      const enrolled = await client.enroll(config.joinToken, {
        name: config.name,
        role: config.role,
        labels: config.labels,
        // Where the control plane will call this agent: fixed now, heartbeats cannot move it.
        inferenceUrl: url,
      });
      const identity: NodeIdentity = {
        server,
        nodeId: enrolled.nodeId,
        nodeName: enrolled.nodeName,
        credential: enrolled.credential,
        enrolledAt: new Date().toISOString(),
      };
      saveNodeIdentity(config.dataDir, identity);
      log.info({ nodeId: identity.nodeId, name: identity.nodeName }, 'enrolled');
      // The registry's key comes with the enrolment (the control plane the operator chose to trust).
      if (enrolled.registryPublicKey) {
        const replaced = new RegistryKey(config.dataDir, () => Promise.reject(new Error('offline'))).pin(enrolled.registryPublicKey);
        if (replaced)
          log.warn(`${REGISTRY_KEY_FILE} held another registry key: replaced by the one of the control plane this node enrolled with`);
      }
      return identity;
    } catch (error) {
      // A refusal (bad token, taken name) will not change by retrying; an unreachable server may.
      if (!(error instanceof ApiError) || !error.unreachable || attempt >= 30) {
        throw new Error(`Enrolment failed: ${(error as Error).message}`, { cause: error });
      }
      const delay = backoffDelay(attempt, 500, 5000);
      log.warn({ attempt, retryInMs: delay }, (error as Error).message);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** A wildcard listen address is no use to others: advertise the host name instead. */
export function defaultAdvertiseUrl(host: string, port: number, scheme: 'http' | 'https' = 'http'): string {
  const reachable = host === '0.0.0.0' || host === '::' ? os.hostname() : host;
  return `${scheme}://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
}
