import { createPublicKey, verify } from 'node:crypto';

/** What a session token carries: which session, for which model on which node (or the cloud), until when. */
export interface SessionClaims {
  /** The session id. */
  sid: string;
  /** The deployment name on a node; the registered model on the cloud. */
  model: string;
  /** The node id the session was placed on, or 'cloud'. */
  node: string;
  /** Connect before this (ms since the epoch); an unused token is worthless afterwards. */
  exp: number;
  /** Close the socket after this long without a message, ms. */
  idleMs: number;
}

const PREFIX = 'fss1';

function signedPart(payload: string): Buffer {
  return Buffer.from(`fogline.session.v1\n${payload}`, 'utf8');
}

/**
 * `fss1.<base64url claims JSON>.<base64url ed25519 signature>`, signed with the registry key: agents
 * already pin its public half (they verify bundles with it), so they check a token without asking
 * the control plane and without any shared secret.
 */
export function encodeSessionToken(claims: SessionClaims, signBytes: (message: Buffer) => string): string {
  const payload = Buffer.from(JSON.stringify(claims), 'utf8').toString('base64url');
  return `${PREFIX}.${payload}.${signBytes(signedPart(payload))}`;
}

/** The claims of a token signed by `publicKeyPem`, or a reason it is refused. Checks the signature and the expiry, not the model or node. */
export function decodeSessionToken(token: string, publicKeyPem: string, now = Date.now()): SessionClaims | { refused: string } {
  const [prefix, payload, signature, extra] = token.split('.');
  if (prefix !== PREFIX || !payload || !signature || extra !== undefined) return { refused: 'not a session token' };
  let valid: boolean;
  try {
    valid = verify(null, signedPart(payload), createPublicKey(publicKeyPem), Buffer.from(signature, 'base64url'));
  } catch {
    valid = false;
  }
  if (!valid) return { refused: 'the session token is not signed by this control plane' };
  let claims: SessionClaims;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as SessionClaims;
  } catch {
    return { refused: 'not a session token' };
  }
  if (typeof claims.sid !== 'string' || typeof claims.exp !== 'number') return { refused: 'not a session token' };
  if (claims.exp < now) return { refused: 'the session token has expired' };
  return claims;
}
