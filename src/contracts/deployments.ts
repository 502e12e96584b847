import { type Static, Type } from '@sinclair/typebox';
import { Count, IsoTime, Labels, Nullable, VersionNumber } from './common.js';
import { IoSignature, ModelName } from './models.js';
import { EdgeToken } from './edge-access.js';
import { DeviceBinding, DeviceBindingRequest, DeviceCounts } from './devices.js';

export const DEPLOYMENT_STRATEGIES = ['all', 'rolling', 'canary'] as const;
export type DeploymentStrategy = (typeof DEPLOYMENT_STRATEGIES)[number];
export const ROLLOUT_PHASES = ['stable', 'updating', 'rolling', 'canary', 'soaking', 'promoting', 'rolled-back'] as const;
export type RolloutPhase = (typeof ROLLOUT_PHASES)[number];
export const NODE_DEPLOYMENT_STATES = ['pending', 'downloading', 'loading', 'serving', 'failed'] as const;
export type NodeDeploymentState = (typeof NODE_DEPLOYMENT_STATES)[number];
/** What `deploy get` shows per node: a reported state, or 'refused' when the selector chose a node the model does not fit. */
const DEPLOYMENT_VIEW_STATES = [...NODE_DEPLOYMENT_STATES, 'refused'] as const;
/** Where a deployment's requests run: always on the node, always in the cloud (the node's own model when the cloud is away), or decided per request. */
export const OFFLOAD_POLICIES = ['edge-only', 'cloud-only', 'auto'] as const;
export type OffloadPolicy = (typeof OFFLOAD_POLICIES)[number];
export const DEFAULT_LATENCY_TARGET_MS = 50;
/** What `auto` does with a request that neither the node nor the cloud can answer within the latency target (agent flag --offload-overload). */
export const OVERLOAD_MODES = ['shed', 'queue'] as const;
export type OverloadMode = (typeof OVERLOAD_MODES)[number];
const OffloadPolicySchema = Type.Union(
  OFFLOAD_POLICIES.map((p) => Type.Literal(p)),
  {
    default: 'edge-only',
    description:
      'edge-only: every request runs on the node; cloud-only: on the control plane, on the node when the cloud cannot be reached; auto: the node decides per request from its queue, CPU, memory and predictor health against latencyTargetMs',
  },
);
const LatencyTargetMs = Type.Integer({
  minimum: 1,
  maximum: 600_000,
  default: DEFAULT_LATENCY_TARGET_MS,
  description: 'auto: a request whose expected wait on the node exceeds this goes to the cloud',
});
/** Hard-example rules of joint inference (src/ml/joint/hard-example.ts). */
export const JOINT_RULES = ['confidence', 'entropy', 'interval-width'] as const;
export type JointRule = (typeof JOINT_RULES)[number];
const JointRuleSchema = Type.Union(JOINT_RULES.map((r) => Type.Literal(r)));
/**
 * Joint inference: the node's (small) model answers every request first; the rows the rule finds
 * hard go to a larger cloud model, whose answers replace the node's for those rows.
 */
export const JointSetting = Type.Object(
  {
    cloudModel: Type.String({
      minLength: 1,
      maxLength: 300,
      description:
        'The cloud model as a selector (digits-large, digits-large@3 or digits-large@champion): same inputs and outputs as the edge model',
    }),
    rule: JointRuleSchema,
    threshold: Type.Number({
      minimum: 0,
      maximum: 1_000_000,
      description:
        'A row whose score is above this is hard. confidence (1 − top probability) and entropy (normalised, 0–1): 0–1; interval-width ((upper − lower) / |median|): ≥ 0',
    }),
  },
  { additionalProperties: false },
);
export type JointSetting = Static<typeof JointSetting>;
/** Rows one node's joint inference scored since its agent started, and the labelled ones' correctness. */
export const JointCounts = Type.Object(
  {
    easy: Type.Integer({ minimum: 0, description: 'Rows the edge model answered, judged easy' }),
    hard: Type.Integer({ minimum: 0, description: 'Rows judged hard and answered by the cloud model' }),
    fallback: Type.Integer({ minimum: 0, description: 'Rows judged hard that the edge model answered: the cloud failed or was held off' }),
    labelled: Type.Integer({ minimum: 0, description: 'Rows that came with a true label (fogline.label)' }),
    edgeCorrect: Type.Integer({ minimum: 0, description: "Of those, the ones the edge model's own answer got right" }),
    finalCorrect: Type.Integer({ minimum: 0, description: 'Of those, the ones the final answer (edge or cloud) got right' }),
  },
  { additionalProperties: false },
);
export type JointCounts = Static<typeof JointCounts>;

export const CreateDeploymentRequest = Type.Object(
  {
    name: ModelName,
    model: Type.String({ minLength: 1, maxLength: 300, description: 'Model selector: name, name@version or name@alias' }),
    nodeSelector: Type.Optional(Labels),
    strategy: Type.Optional(
      Type.Union(
        DEPLOYMENT_STRATEGIES.map((s) => Type.Literal(s)),
        { default: 'all', description: 'all: every node at once; rolling: one node at a time; canary: canaryPercent first, then the rest' },
      ),
    ),
    canaryPercent: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 100,
        default: 20,
        description: 'canary: share of the selected nodes that get a new version first',
      }),
    ),
    soakSeconds: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 86_400,
        default: 60,
        description: 'canary: how long the canary must stay healthy before promotion',
      }),
    ),
    maxErrorRate: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 1,
        default: 0.01,
        description: 'canary: highest error rate (0–1) during the soak before it rolls back',
      }),
    ),
    offload: Type.Optional(OffloadPolicySchema),
    latencyTargetMs: Type.Optional(LatencyTargetMs),
    joint: Type.Optional(JointSetting),
    mqtt: Type.Optional(DeviceBindingRequest),
  },
  { additionalProperties: false },
);
export type CreateDeploymentRequest = Static<typeof CreateDeploymentRequest>;

export const NodeDeploymentStatus = Type.Object({
  nodeId: Type.String(),
  nodeName: Type.String(),
  /** The version the node is working towards (downloading, loading) or serves. */
  version: Nullable(Type.Integer()),
  /** The version it actually serves now: the old one while a new one loads or after it failed. */
  servingVersion: Nullable(Type.Integer()),
  /** The version the rollout assigns this node now. */
  assignedVersion: Nullable(Type.Integer()),
  state: Type.Union(
    DEPLOYMENT_VIEW_STATES.map((s) => Type.Literal(s)),
    {
      description: "What the node reports; 'refused': the selector chose it but the model does not fit it (see reason)",
    },
  ),
  reason: Nullable(Type.String()),
  requests: Type.Integer({ description: 'Requests the serving version answered on this node since it started serving' }),
  errors: Type.Integer({ description: 'Of those, the ones that failed on the server side' }),
  latencyP50Ms: Nullable(Type.Number({ description: 'Median latency of the last requests on this node (queue + compute), ms' })),
  latencyP99Ms: Nullable(Type.Number({ description: '99th percentile of the same, ms' })),
  localRequests: Type.Integer({ description: 'Requests this node answered itself (as decided, or as a fallback) since its agent started' }),
  offloadedRequests: Type.Integer({ description: 'Requests this node sent to the cloud, which answered them, since its agent started' }),
  joint: Nullable(
    Type.Object({
      ...JointCounts.properties,
      offloadRate: Type.Number({ description: 'hard / (easy + hard + fallback): the share of rows the cloud answered' }),
      edgeAccuracy: Nullable(Type.Number({ description: 'edgeCorrect / labelled; null without labels' })),
      finalAccuracy: Nullable(Type.Number({ description: 'finalCorrect / labelled; null without labels' })),
    }),
  ),
  mqtt: Nullable(DeviceCounts),
  updatedAt: Nullable(IsoTime),
});
export type NodeDeploymentStatus = Static<typeof NodeDeploymentStatus>;

export const RolloutView = Type.Object({
  phase: Type.Union(ROLLOUT_PHASES.map((p) => Type.Literal(p))),
  stableVersion: Nullable(Type.Integer({ description: 'The last version that finished rolling out' })),
  targetVersion: Nullable(Type.Integer({ description: 'The version being rolled out (or rolled back)' })),
  updatedNodes: Type.Array(Type.String(), { description: 'Rolling and canary: the nodes already given the target version' }),
  phaseSince: IsoTime,
  blockedVersions: Type.Array(Type.Integer(), { description: 'Rolled-back versions, not tried again until the selector moves on' }),
  goodVersions: Type.Array(Type.Integer(), { description: 'Versions that completed a rollout, oldest first' }),
  preferredCanary: Nullable(
    Type.Object(
      { version: Type.Integer(), nodes: Type.Array(Type.String()) },
      { description: 'That version goes first to these nodes, whatever the strategy (a drift promotion: the nodes that drifted)' },
    ),
  ),
  history: Type.Array(
    Type.Object({
      at: IsoTime,
      version: Nullable(Type.Integer()),
      event: Type.String(),
      message: Type.String(),
    }),
  ),
});
export type RolloutView = Static<typeof RolloutView>;

export const DeploymentView = Type.Object({
  name: Type.String(),
  model: Type.String(),
  nodeSelector: Labels,
  strategy: Type.Union(DEPLOYMENT_STRATEGIES.map((s) => Type.Literal(s))),
  canaryPercent: Type.Integer(),
  soakSeconds: Type.Integer(),
  maxErrorRate: Type.Number(),
  offload: Type.Union(OFFLOAD_POLICIES.map((p) => Type.Literal(p))),
  latencyTargetMs: Type.Integer(),
  joint: Nullable(
    Type.Object({
      cloudModel: Type.String(),
      rule: JointRuleSchema,
      threshold: Type.Number(),
      cloudVersion: Nullable(Type.Integer({ description: 'The version cloudModel resolves to now' })),
    }),
  ),
  mqtt: Nullable(DeviceBinding),
  /** The version the model selector resolves to now (moving an alias changes it). */
  version: Nullable(Type.Integer()),
  rollout: RolloutView,
  nodes: Type.Array(NodeDeploymentStatus),
  createdAt: IsoTime,
  updatedAt: IsoTime,
});
export type DeploymentView = Static<typeof DeploymentView>;
export const DeploymentList = Type.Object({ deployments: Type.Array(DeploymentView) });
export type DeploymentList = Static<typeof DeploymentList>;
export const DeploymentParams = Type.Object({ name: ModelName });

/** What one node should serve: every deployment placed on it, with what it needs to fetch and verify the bundle. */
export const DesiredDeployment = Type.Object({
  name: Type.String({ description: 'The deployment name: the model name agents serve it under on /v2' }),
  model: Type.String(),
  version: Type.Integer(),
  kind: Type.String(),
  sha256: Type.String(),
  signature: Type.String({ description: 'ed25519 over "fogline.bundle.v1\\n<model>\\n<version>\\n<sha256>", base64' }),
  sizeBytes: Type.Integer(),
  downloadPath: Type.String({ description: 'GET with the node credential' }),
  ioSignature: IoSignature,
  offload: Type.Optional(
    Type.Object({
      policy: Type.Union(OFFLOAD_POLICIES.map((p) => Type.Literal(p))),
      latencyTargetMs: Type.Integer(),
      inferPath: Type.String({
        description: "The control plane's V2 infer path for this very version, relative to the server URL the agent knows",
      }),
    }),
  ),
  joint: Type.Optional(
    Type.Object({
      model: Type.String({ description: 'The cloud model' }),
      version: Type.Integer({ description: 'The version its selector resolves to now' }),
      rule: JointRuleSchema,
      threshold: Type.Number(),
      inferPath: Type.String({ description: "The control plane's V2 infer path for that version" }),
    }),
  ),
  mqtt: Type.Optional(DeviceBinding),
  sampleUpload: Type.Optional(
    Type.Boolean({
      description: "The deployment's drift policy uploads samples: the node's POST …/actuals then needs an inference token for it",
    }),
  ),
});
export type DesiredDeployment = Static<typeof DesiredDeployment>;

export const DesiredState = Type.Object({
  /** Changes whenever anything in `deployments` or `edgeTokens` changes; send it back as ?revision= to wait for the next change. */
  revision: Type.String(),
  deployments: Type.Array(DesiredDeployment),
  /** The inference tokens this node's agent accepts on /v2 and /metrics (hashes only; src/agent/edge-auth). */
  edgeTokens: Type.Optional(Type.Array(EdgeToken)),
});
export type DesiredState = Static<typeof DesiredState>;

export const DesiredStateQuery = Type.Object(
  {
    revision: Type.Optional(Type.String({ maxLength: 64 })),
    waitSeconds: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 60, default: 0, description: 'Long poll: answer when the revision differs, or after this long' }),
    ),
  },
  { additionalProperties: false },
);
export type DesiredStateQuery = Static<typeof DesiredStateQuery>;

export const DeploymentStatusReport = Type.Object(
  {
    deployments: Type.Array(
      Type.Object(
        {
          name: Type.String({ maxLength: 200 }),
          version: Nullable(VersionNumber()),
          state: Type.Union(NODE_DEPLOYMENT_STATES.map((s) => Type.Literal(s))),
          reason: Type.Optional(Type.String({ maxLength: 2000 })),
          servingVersion: Type.Optional(
            Nullable(VersionNumber({ description: 'The version this node serves now (the old one while a new one loads or failed)' })),
          ),
          requests: Type.Optional(Count({ description: 'Requests the serving version answered here since it started serving' })),
          errors: Type.Optional(Count({ description: 'Of those, the ones that failed on the server side' })),
          latencyP50Ms: Type.Optional(
            Type.Number({ minimum: 0, maximum: 3_600_000, description: 'Median latency of the last requests, ms' }),
          ),
          latencyP99Ms: Type.Optional(
            Type.Number({ minimum: 0, maximum: 3_600_000, description: '99th percentile latency of the last requests, ms' }),
          ),
          localRequests: Type.Optional(Count({ description: 'Requests answered on this node since the agent started (all versions)' })),
          offloadedRequests: Type.Optional(
            Count({ description: 'Requests offloaded to the cloud and answered there since the agent started' }),
          ),
          joint: Type.Optional(JointCounts),
          mqtt: Type.Optional(DeviceCounts),
        },
        { additionalProperties: false },
      ),
      { maxItems: 256 },
    ),
  },
  { additionalProperties: false },
);
export type DeploymentStatusReport = Static<typeof DeploymentStatusReport>;
