import { createHash } from 'node:crypto';
import { hashSecret } from './token-secret.js';

/** Its id is fixed, like the bootstrap admin token's (…01); it is never a row of `tokens`. */
export const CONTROL_PLANE_EDGE_TOKEN_ID = '0000000000000002';

/** The message whose signature the secret is derived from: no other signed message starts like it. */
const PURPOSE = Buffer.from('fogline.edge-token.v1\ncontrol-plane', 'utf8');

export interface ControlPlaneEdgeToken {
  id: string;
  /** `fgl.<id>.<secret>`: what the control plane presents to cloud agents. */
  token: string;
  /** SHA-256 of the secret, hex: what those agents are given to check it. */
  secretHash: string;
}

/**
 * The inference token the control plane presents to cloud nodes' agents when it forwards /v2
 * requests and health-checks them (src/inference/replica-balancer.ts), so that cloud agents can
 * run `--edge-auth token`. Derived from the registry's signing key (ed25519 signatures are
 * deterministic), so that every control-plane replica sharing the key presents the same token
 * without storing a secret anywhere: it changes when the key does. It is not in the database, so
 * the control plane's own API never accepts it; agents accept it for every deployment, and only
 * cloud nodes are given its hash.
 */
export function controlPlaneEdgeToken(signBytes: (message: Buffer) => string): ControlPlaneEdgeToken {
  const secret = createHash('sha256').update(signBytes(PURPOSE)).digest('base64url');
  return { id: CONTROL_PLANE_EDGE_TOKEN_ID, token: `fgl.${CONTROL_PLANE_EDGE_TOKEN_ID}.${secret}`, secretHash: hashSecret(secret) };
}
