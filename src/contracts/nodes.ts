import { type Static, Type } from '@sinclair/typebox';
import { IsoTime, Labels, Nullable } from './common.js';

export const NODE_ROLES = ['edge', 'cloud'] as const;
export type NodeRole = (typeof NODE_ROLES)[number];
export const NodeRoleSchema = Type.Union(NODE_ROLES.map((role) => Type.Literal(role)));

/** DNS-1123 subdomain, as Kubernetes names nodes. */
export const NodeName = Type.String({
  minLength: 1,
  maxLength: 253,
  pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$',
  description: 'Lowercase letters, digits, "-" and ".", starting and ending with a letter or digit',
});

/** Where an agent serves inference (its Open Inference Protocol routes): http or https, no credentials in it. */
const INFERENCE_URL = { maxLength: 2048, pattern: '^https?://[^\\s/@]+(/\\S*)?$' };
export const InferenceUrl = Type.String({
  ...INFERENCE_URL,
  description: 'http(s)://host:port of the agent, as the control plane reaches it',
});

export const EnrollRequest = Type.Object(
  {
    name: NodeName,
    role: NodeRoleSchema,
    labels: Type.Optional(Labels),
    inferenceUrl: Type.Optional(
      Type.String({
        ...INFERENCE_URL,
        description:
          "The agent's advertise URL: where the control plane calls it (cloud replicas, session sockets, scrapes). Fixed here; a heartbeat cannot change it",
      }),
    ),
  },
  { additionalProperties: false },
);
export type EnrollRequest = Static<typeof EnrollRequest>;

export const EnrollResponse = Type.Object(
  {
    nodeId: Type.String(),
    nodeName: Type.String(),
    credential: Type.String({ description: 'The node credential: acts only as this node; shown once' }),
    heartbeatIntervalSeconds: Type.Number(),
    pendingApproval: Type.Optional(Type.Boolean({ description: 'The node gets no work until an operator approves it' })),
    registryPublicKey: Type.Optional(
      Type.String({
        description:
          "The model registry's public key (PEM): the agent pins it at enrolment and checks every bundle's signature with it (absent from control planes before it: the agent then pins the key on its first artifact fetch)",
      }),
    ),
  },
  {},
);
export type EnrollResponse = Static<typeof EnrollResponse>;

const Bytes = Type.Integer({ minimum: 0 });

/** What can run a model's network on a node: ONNX Runtime, TensorFlow.js. */
export const MODEL_RUNTIMES = ['onnx', 'tfjs'] as const;
export type ModelRuntime = (typeof MODEL_RUNTIMES)[number];

export const Gpu = Type.Object(
  {
    name: Type.String({ maxLength: 200 }),
    memoryTotalBytes: Type.Optional(Bytes),
    memoryUsedBytes: Type.Optional(Bytes),
    utilizationPercent: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
  },
  { additionalProperties: false },
);

export const NodeResources = Type.Object(
  {
    cpuCount: Type.Integer({ minimum: 1, maximum: 100_000 }),
    loadAverage: Type.Array(Type.Number({ minimum: 0 }), { minItems: 3, maxItems: 3 }),
    memoryTotalBytes: Bytes,
    memoryFreeBytes: Bytes,
    diskTotalBytes: Bytes,
    diskFreeBytes: Bytes,
    gpus: Type.Array(Gpu, { maxItems: 64 }),
  },
  { additionalProperties: false },
);
export type NodeResources = Static<typeof NodeResources>;

export const AgentInfo = Type.Object(
  {
    version: Type.String({ maxLength: 64 }),
    os: Type.String({ maxLength: 64 }),
    arch: Type.String({ maxLength: 64 }),
    hostname: Type.String({ maxLength: 253 }),
    inferenceUrl: Type.String({ maxLength: 2048, description: 'Where the agent serves inference' }),
    runtimes: Type.Optional(
      Type.Array(Type.Union(MODEL_RUNTIMES.map((r) => Type.Literal(r))), {
        maxItems: 8,
        description: 'Model runtimes that load on this node (an agent that reports none runs TensorFlow.js only)',
      }),
    ),
  },
  { additionalProperties: false },
);
export type AgentInfo = Static<typeof AgentInfo>;

/** Telemetry an agent measured while it could not reach the control plane, sent with its next heartbeat. */
export const TelemetryBacklog = Type.Object(
  {
    samples: Type.Array(
      Type.Object(
        { at: Type.Integer({ minimum: 0, description: 'When it was measured, ms since the epoch' }), resources: NodeResources },
        { additionalProperties: false },
      ),
      { maxItems: 720 },
    ),
    dropped: Type.Integer({ minimum: 0, description: 'Samples dropped, oldest first, because the buffer was full' }),
  },
  { additionalProperties: false },
);
export type TelemetryBacklog = Static<typeof TelemetryBacklog>;

export const HeartbeatRequest = Type.Object(
  { resources: NodeResources, agent: AgentInfo, backlog: Type.Optional(TelemetryBacklog) },
  { additionalProperties: false },
);
export type HeartbeatRequest = Static<typeof HeartbeatRequest>;

/** A new node credential, handed to the agent with a heartbeat answer when its credential is rotated. */
export const IssuedCredential = Type.Object(
  {
    credential: Type.String({
      description: 'The new credential: save it (node.json), then use it; the one this heartbeat used stops working soon after',
    }),
    expiresAt: Nullable(IsoTime),
  },
  {},
);
export type IssuedCredential = Static<typeof IssuedCredential>;

export const HeartbeatResponse = Type.Object(
  {
    heartbeatIntervalSeconds: Type.Number(),
    serverTime: IsoTime,
    pendingApproval: Type.Optional(Type.Boolean({ description: 'The node waits for an operator to approve it (fogline nodes approve)' })),
    newCredential: Type.Optional(IssuedCredential),
  },
  {},
);
export type HeartbeatResponse = Static<typeof HeartbeatResponse>;

export const NODE_STATUSES = ['online', 'offline'] as const;
export type NodeStatus = (typeof NODE_STATUSES)[number];

export const NodeView = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    role: NodeRoleSchema,
    labels: Labels,
    status: Type.Union(NODE_STATUSES.map((status) => Type.Literal(status))),
    cordoned: Type.Boolean({ description: 'Cordoned nodes get no new deployments' }),
    pending: Type.Optional(
      Type.Boolean({
        description:
          'True until an operator approves a node enrolled with a --require-approval join token: it gets no deployments, federated rounds, sessions or cloud-replica role',
      }),
    ),
    credentialRotation: Type.Optional(
      Type.Union([Type.Literal('requested'), Type.Literal('delivered')], {
        description: "A credential rotation under way: requested (handed out with the node's next heartbeat), delivered (not used yet)",
      }),
    ),
    lastHeartbeatAt: Nullable(IsoTime),
    heartbeatAgeSeconds: Nullable(Type.Number()),
    resources: Nullable(NodeResources),
    agent: Nullable(AgentInfo),
    inferenceUrl: Nullable(
      Type.String({
        description:
          "Where the control plane calls the node's agent: set at enrolment (or by its first heartbeat when it enrolled without one) and changed only by an operator (fogline nodes set-url); agent.inferenceUrl is only what the agent says",
      }),
    ),
    enrolledAt: IsoTime,
  },
  {},
);
export type NodeView = Static<typeof NodeView>;

export const NodeList = Type.Object({ nodes: Type.Array(NodeView) }, {});
export type NodeList = Static<typeof NodeList>;

export const NodeListQuery = Type.Object(
  {
    selector: Type.Optional(Type.String({ maxLength: 2000, description: 'Label selector: k=v,k2=v2' })),
    status: Type.Optional(Type.Union(NODE_STATUSES.map((status) => Type.Literal(status)))),
    role: Type.Optional(NodeRoleSchema),
  },
  { additionalProperties: false },
);
export type NodeListQuery = Static<typeof NodeListQuery>;

export const SetInferenceUrlRequest = Type.Object({ url: InferenceUrl }, { additionalProperties: false });
export type SetInferenceUrlRequest = Static<typeof SetInferenceUrlRequest>;

export const LabelPatch = Type.Object(
  {
    set: Type.Optional(Labels),
    remove: Type.Optional(Type.Array(Type.String({ maxLength: 317 }), { maxItems: 64 })),
  },
  { additionalProperties: false },
);
export type LabelPatch = Static<typeof LabelPatch>;
