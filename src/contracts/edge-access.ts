import { type Static, Type } from '@sinclair/typebox';
import { IsoTime, Nullable } from './common.js';

/** Who may call an agent's /v2 and /metrics: `fogline agent --edge-auth`. */
export const EDGE_AUTH_MODES = ['open', 'token', 'mtls'] as const;
export type EdgeAuthMode = (typeof EDGE_AUTH_MODES)[number];

/** In an EdgeToken's `deployments`: every deployment (only the control plane's own token, on cloud nodes). */
export const ALL_DEPLOYMENTS = '*';

/**
 * One inference token as an agent checks it, locally: its id and the SHA-256 of its secret
 * (never the secret), and what it covers on this node. The control plane sends the set with the
 * node's desired state, so a token created or revoked reaches the node with the next long poll.
 */
export const EdgeToken = Type.Object(
  {
    id: Type.String({ pattern: '^[0-9a-f]{16}$' }),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$', description: "SHA-256 of the token's secret, hex" }),
    deployments: Type.Array(Type.String({ maxLength: 200 }), {
      maxItems: 1000,
      description: `Deployments of this node whose /v2 routes it may call; "${ALL_DEPLOYMENTS}": all of them`,
    }),
    metrics: Type.Boolean({ description: "May read the agent's GET /metrics" }),
    expiresAt: Nullable(IsoTime),
  },
  { additionalProperties: false },
);
export type EdgeToken = Static<typeof EdgeToken>;
