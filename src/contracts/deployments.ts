import { type Static, Type } from '@sinclair/typebox';
import { IsoTime, Labels, Nullable } from './common.js';
import { IoSignature, ModelName } from './models.js';

export const DEPLOYMENT_STRATEGIES = ['all'] as const;
export const NODE_DEPLOYMENT_STATES = ['pending', 'downloading', 'loading', 'serving', 'failed'] as const;
export type NodeDeploymentState = (typeof NODE_DEPLOYMENT_STATES)[number];

export const CreateDeploymentRequest = Type.Object(
  {
    name: ModelName,
    model: Type.String({ minLength: 1, maxLength: 300, description: 'Model selector: name, name@version or name@alias' }),
    nodeSelector: Type.Optional(Labels),
    strategy: Type.Optional(
      Type.Union(
        DEPLOYMENT_STRATEGIES.map((s) => Type.Literal(s)),
        { default: 'all' },
      ),
    ),
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
  state: Type.Union(NODE_DEPLOYMENT_STATES.map((s) => Type.Literal(s))),
  reason: Nullable(Type.String()),
  updatedAt: Nullable(IsoTime),
});
export type NodeDeploymentStatus = Static<typeof NodeDeploymentStatus>;

export const DeploymentView = Type.Object({
  name: Type.String(),
  model: Type.String(),
  nodeSelector: Labels,
  strategy: Type.String(),
  /** The version the model selector resolves to now (moving an alias changes it). */
  version: Nullable(Type.Integer()),
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
});
export type DesiredDeployment = Static<typeof DesiredDeployment>;

export const DesiredState = Type.Object({
  /** Changes whenever anything in `deployments` changes; send it back as ?revision= to wait for the next change. */
  revision: Type.String(),
  deployments: Type.Array(DesiredDeployment),
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
          version: Nullable(Type.Integer()),
          state: Type.Union(NODE_DEPLOYMENT_STATES.map((s) => Type.Literal(s))),
          reason: Type.Optional(Type.String({ maxLength: 2000 })),
          servingVersion: Type.Optional(
            Nullable(Type.Integer({ description: 'The version this node serves now (the old one while a new one loads or failed)' })),
          ),
        },
        { additionalProperties: false },
      ),
      { maxItems: 256 },
    ),
  },
  { additionalProperties: false },
);
export type DeploymentStatusReport = Static<typeof DeploymentStatusReport>;
