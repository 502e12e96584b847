import os from 'node:os';
import path from 'node:path';
import { AuditLog } from '../audit/audit-log.js';
import { Authenticator } from '../auth/authenticator.js';
import { controlPlaneEdgeToken } from '../auth/control-plane-edge-token.js';
import { InferenceTokens } from '../auth/inference-tokens.js';
import { ALL_DEPLOYMENTS } from '../contracts/edge-access.js';
import { TokenRepository } from '../auth/token-repository.js';
import { DatasetCatalog } from '../datasets/dataset-catalog.js';
import { LeaderLease } from '../cluster/leader-lease.js';
import { registerLeaderGauge } from '../cluster/leader-metrics.js';
import { LeaseStore } from '../cluster/lease-store.js';
import { RestartableRollouts } from '../cluster/restartable-rollouts.js';
import { ChangeSignal } from '../deployments/change-signal.js';
import { changeBusFor } from '../cluster/redis-change-bus.js';
import { announceChanges } from '../cluster/change-wiring.js';
import { DeploymentRepository } from '../deployments/deployment-repository.js';
import { DesiredStateService } from '../deployments/desired-state.js';
import { OnDemandPlacements } from '../deployments/on-demand-placements.js';
import { DriftRepository } from '../drift/drift-repository.js';
import { DriftService } from '../drift/drift-service.js';
import { DEFAULT_SAMPLE_LIMITS } from '../drift/sample-bounds.js';
import { FederatedService } from '../federated/federated-service.js';
import { RolloutController } from '../deployments/rollout-controller.js';
import { CREDENTIAL_OVERLAP_MS, CredentialRotation } from '../nodes/credential-rotation.js';
import { Enrolment } from '../nodes/enrolment.js';
import { CloudInference } from '../inference/cloud-inference.js';
import { findCloudReplicas } from '../inference/cloud-replicas.js';
import { ReplicaBalancer } from '../inference/replica-balancer.js';
import { ControlPlaneMetrics } from './metrics/control-plane-metrics.js';
import { trialRun } from '../inference/trial-run.js';
import { NodeRegistry } from '../nodes/node-registry.js';
import { LocalRunHost } from '../pipelines/local-run-host.js';
import { RunEngine } from '../pipelines/run-engine.js';
import { RunExecutor } from '../pipelines/run-executor.js';
import { RunLedger } from '../pipelines/run-ledger.js';
import { workQueueFor } from '../work-queue/work-queue-for.js';
import { ConfigError } from '../errors/config-error.js';
import { RunRepository } from '../pipelines/run-repository.js';
import { type ArtifactStore, FolderArtifactStore } from '../registry/artifact-store.js';
import { DatabaseArtifactStore } from '../registry/database-artifact-store.js';
import { ModelImporter } from '../registry/model-import.js';
import { ModelRegistry } from '../registry/model-registry.js';
import { SigningKey } from '../registry/signing-key.js';
import { DEFAULT_SESSION_SETTINGS, SessionService } from '../sessions/session-service.js';
import type { Store } from '../store/store.js';
import { VERSION } from '../version.js';

export interface ServiceSettings {
  /** How long a node's replaced credential still works once the new one is in use (default 30; not a flag: tests shorten it). */
  credentialOverlapSeconds?: number;
  /** Holds the artifact store and the registry's signing key. */
  dataDir: string;
  datasetLimitBytes: number;
  /** Imported ONNX files: the upload limit and how long the trial load and request may take (defaults: 512 MiB, 60 s). */
  modelLimitBytes?: number;
  importTrialSeconds?: number;
  /** Runs this process trains at once; 0: only `fogline worker` processes do (needs `redis`). */
  runConcurrency: number;
  /** Most runs of a pipeline held at once across the cluster (--pipeline-concurrency). */
  pipelineConcurrency?: Record<string, number>;
  /** With `redis`: a consumer whose hold on a job lapses this long is taken for dead (default 30). */
  workerLostSeconds?: number;
  /** A run whose worker has not reported for this long may be taken over (default 15; not a flag: tests shorten it). */
  runStaleSeconds?: number;
  nodeTimeoutSeconds: number;
  heartbeatIntervalSeconds: number;
  /** Who may read GET /metrics: a viewer token or stronger (default), or anyone. */
  metricsAccess?: 'viewer' | 'public';
  /** Per client address and minute; 0 turns a limit off. */
  enrolRateLimit?: number;
  authFailureLimit?: number;
  /** Bounds on node sample uploads (src/drift/sample-bounds.ts); the defaults when left out. */
  sampleClockSkewSeconds?: number;
  sampleValueBand?: number;
  sampleGapLimit?: number;
  /** Inference sessions: per node, and the idle timeout their sockets get. */
  sessionsPerNode?: number;
  sessionIdleSeconds?: number;
  /** On-demand model loads for sessions: how long a session waits for one, and when an unused one is released. */
  sessionLoadTimeoutSeconds?: number;
  sessionReleaseSeconds?: number;
  /** A node busier than this (1-minute load per CPU) takes no new session. */
  sessionMaxLoadPerCpu?: number;
  /** Redis for the replicas' change events (--redis); none: events stay in this process. */
  redis?: string;
  /** Their pub/sub channel (--redis-channel; default fogline:changes). */
  redisChannel?: string;
  /** Where artifacts live: this server's data dir (default) or the shared database (--artifact-store). */
  artifactStore?: 'folder' | 'database';
  /** The registry key: the PEM itself (FOGLINE_SIGNING_KEY) or a PEM file; else <dataDir>/signing-key.pem. */
  signingKeyPem?: string;
  signingKeyFile?: string;
  /** How long the leader lease lasts without renewal (default 10; not a flag: tests shorten it). */
  leaderLeaseSeconds?: number;
}

/** The domain services the control plane's routes call, wired over one store. */
export interface Services {
  store: Store;
  settings: ServiceSettings;
  tokens: TokenRepository;
  /** Scopes of inference tokens (agents' /v2 and /metrics), handed to agents with their desired state. */
  inferenceTokens: InferenceTokens;
  authenticator: Authenticator;
  nodes: NodeRegistry;
  enrolment: Enrolment;
  /** Node credentials handed over through heartbeats (rotation on request, renewal at half their lifetime). */
  credentials: CredentialRotation;
  audit: AuditLog;
  artifacts: ArtifactStore;
  models: ModelRegistry;
  /** Imports users' ONNX files as model versions. */
  modelImports: ModelImporter;
  datasets: DatasetCatalog;
  runs: RunEngine;
  /** Where workers claim runs, report on them and hand in what they trained (in this process or over the API). */
  runLedger: RunLedger;
  runEvents: RunRepository;
  inference: CloudInference;
  /** The /v2 endpoint: cloud nodes' replicas of a version first (least outstanding), else `inference`. */
  cloudReplicas: ReplicaBalancer;
  deployments: DeploymentRepository;
  desiredState: DesiredStateService;
  /** Moves rollouts along (on the leader only: src/cluster). */
  rollouts: RestartableRollouts;
  /**
   * The leader lease the replicas sharing this database contend for: the leader runs the
   * background controllers (app.ts), every replica serves requests.
   */
  lease: LeaderLease;
  /** Wakes desired-state long polls after any change made through the API. */
  changes: ChangeSignal;
  /** Prometheus metrics (GET /metrics); also told of runs by the run ledger. */
  metrics: ControlPlaneMetrics;
  /** Federated jobs: the aggregator and its round coordinator (the coordinator on the leader only). */
  federated: FederatedService;
  /** Drift policies, node summaries, events and retraining rounds (the loop on the leader only). */
  drift: DriftService;
  /** 1:1 inference sessions (kept in the store; swept by the leader). */
  sessions: SessionService;
  /** The registry's public key: also checks session tokens on the control plane's own stream. */
  registryPublicKeyPem: string;
}

export function createServices(store: Store, settings: ServiceSettings): Services {
  const tokens = new TokenRepository(store.db);
  const authenticator = new Authenticator(tokens);
  const nodes = new NodeRegistry(store.db, tokens, settings.nodeTimeoutSeconds * 1000);
  // Bundles, dataset versions and federated updates: this server's data dir, or the shared database (replicas).
  const artifactStore = (space: 'models' | 'datasets' | 'federated', folder: string): ArtifactStore =>
    settings.artifactStore === 'database'
      ? new DatabaseArtifactStore(store.db, { space, dialect: store.dialect, cacheDir: path.join(settings.dataDir, 'artifact-cache') })
      : new FolderArtifactStore(path.join(settings.dataDir, folder));
  const artifacts = artifactStore('models', 'artifacts');
  const signingKey = SigningKey.configured({
    pem: settings.signingKeyPem,
    file: settings.signingKeyFile,
    defaultFile: path.join(settings.dataDir, 'signing-key.pem'),
  });
  const models = new ModelRegistry(store.db, artifacts, signingKey);
  const runRepository = new RunRepository(store.db);
  const deployments = new DeploymentRepository(store.db);
  const policies = new DriftRepository(store.db);
  const metrics = new ControlPlaneMetrics({ nodes, deployments, runs: runRepository, drift: policies });
  // Change events: in this process, and with --redis to and from the other replicas.
  const changes = new ChangeSignal(changeBusFor(settings.redis, settings.redisChannel));
  announceChanges(changes, { tokens, nodes, models, deployments });
  const onDemand = new OnDemandPlacements(store.db);
  const inferenceTokens = new InferenceTokens(store.db);
  // What the control plane presents to cloud agents that run --edge-auth token; only cloud nodes get its hash.
  const edgeToken = controlPlaneEdgeToken((message) => signingKey.signBytes(message));
  const desiredState = new DesiredStateService(deployments, models, nodes, changes, onDemand, {
    grants: async () => [
      ...(await inferenceTokens.active()),
      {
        id: edgeToken.id,
        secretHash: edgeToken.secretHash,
        deployments: [ALL_DEPLOYMENTS],
        metrics: false,
        expiresAt: null,
        cloudOnly: true,
      },
    ],
    sampleUploads: async () => new Set((await policies.listPolicies()).filter((p) => p.sampleUpload).map((p) => p.deployment)),
  });
  const inference = new CloudInference(models, () => store.ping());
  const cloudReplicas = new ReplicaBalancer(inference, () => findCloudReplicas({ deployments, desiredState, nodes }), {
    observer: metrics.cloudReplicas,
    credential: edgeToken.token,
  });
  metrics.cloudReplicas.watch(() => cloudReplicas.states());
  const lease = new LeaderLease(new LeaseStore(store.db, store.dialect), { ttlMs: (settings.leaderLeaseSeconds ?? 10) * 1000 });
  registerLeaderGauge(metrics.registry, lease);
  const datasets = new DatasetCatalog(store.db, artifactStore('datasets', 'datasets'), settings.datasetLimitBytes);
  if (settings.runConcurrency === 0 && !settings.redis) {
    throw new ConfigError(
      '--run-concurrency 0 leaves training to `fogline worker` processes, which take runs from Redis: give --redis too',
    );
  }
  const runLedger = new RunLedger({
    runs: runRepository,
    datasets,
    models,
    observer: metrics.pipelines,
    pipelineLimits: settings.pipelineConcurrency,
    ...(settings.runStaleSeconds !== undefined ? { staleMs: settings.runStaleSeconds * 1000 } : {}),
  });
  const runs = new RunEngine({
    runs: runRepository,
    datasets,
    models,
    ledger: runLedger,
    queue: workQueueFor(settings.redis, settings.redisChannel, (settings.workerLostSeconds ?? 30) * 1000),
  });
  metrics.pipelines.watchQueue(() => runs.queueStats());
  runs.work(
    new RunExecutor({
      host: new LocalRunHost(runLedger, datasets, models),
      workerName: `control plane ${os.hostname()}:${process.pid}`,
      cacheDir: path.join(settings.dataDir, 'cache'),
      codeVersion: VERSION,
    }),
    settings.runConcurrency,
  );
  return {
    store,
    settings,
    tokens,
    inferenceTokens,
    authenticator,
    nodes,
    enrolment: new Enrolment(store.db, authenticator, tokens, nodes),
    credentials: new CredentialRotation(
      store.db,
      tokens,
      nodes,
      (settings.credentialOverlapSeconds ?? CREDENTIAL_OVERLAP_MS / 1000) * 1000,
    ),
    audit: new AuditLog(store.db),
    artifacts,
    models,
    modelImports: new ModelImporter(models, {
      limitBytes: settings.modelLimitBytes ?? 536_870_912,
      trialRun: (bundle, signature) => trialRun(bundle, signature, (settings.importTrialSeconds ?? 60) * 1000),
      codeVersion: VERSION,
    }),
    datasets,
    inference,
    cloudReplicas,
    deployments,
    changes,
    metrics,
    desiredState,
    rollouts: new RestartableRollouts(() => new RolloutController(deployments, desiredState, changes)),
    lease,
    runEvents: runRepository,
    federated: new FederatedService(store.db, models, nodes, {
      dataDir: settings.dataDir,
      codeVersion: VERSION,
      datasets,
      files: artifactStore('federated', 'federated'),
    }),
    runs,
    runLedger,
    sessions: new SessionService(
      { db: store.db, deployments, desiredState, nodes, models, onDemand, changes, signBytes: (message) => signingKey.signBytes(message) },
      {
        ...DEFAULT_SESSION_SETTINGS,
        maxPerNode: settings.sessionsPerNode ?? DEFAULT_SESSION_SETTINGS.maxPerNode,
        idleMs: (settings.sessionIdleSeconds ?? DEFAULT_SESSION_SETTINGS.idleMs / 1000) * 1000,
        loadTimeoutMs: (settings.sessionLoadTimeoutSeconds ?? DEFAULT_SESSION_SETTINGS.loadTimeoutMs / 1000) * 1000,
        releaseAfterMs: (settings.sessionReleaseSeconds ?? DEFAULT_SESSION_SETTINGS.releaseAfterMs / 1000) * 1000,
        maxLoadPerCpu: settings.sessionMaxLoadPerCpu ?? DEFAULT_SESSION_SETTINGS.maxLoadPerCpu,
      },
    ),
    registryPublicKeyPem: signingKey.publicKeyPem,
    drift: new DriftService({
      repository: new DriftRepository(store.db),
      deployments,
      models,
      artifacts,
      datasets,
      runs,
      changes,
      sampleLimits: {
        clockSkewSeconds: settings.sampleClockSkewSeconds ?? DEFAULT_SAMPLE_LIMITS.clockSkewSeconds,
        valueBand: settings.sampleValueBand ?? DEFAULT_SAMPLE_LIMITS.valueBand,
        gapLimit: settings.sampleGapLimit ?? DEFAULT_SAMPLE_LIMITS.gapLimit,
      },
    }),
  };
}
