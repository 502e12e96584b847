import type { StreamSessionGate } from '../inference/v2-stream.js';
import { FoglineError } from '../errors/fogline-error.js';
import { decodeSessionToken } from './session-token.js';

/**
 * A StreamSessionGate for one socket holder (an agent, or the control plane as 'cloud'): checks
 * the token's signature and expiry with the registry's public key, that it was made for this
 * holder and this model, and that it is not in use or used already; reports opens and closes.
 */
export function sessionGate(options: {
  required: boolean;
  /** The registry's public key; undefined while the holder has none yet (every token is refused). */
  publicKey: () => string | undefined;
  /** The node id the tokens must name ('cloud' for the control plane). */
  holder: () => string | undefined;
  /** The token's model claim a stream of this name (and version) accepts. */
  modelClaim: (name: string, version: string | undefined) => string;
  report: (id: string, event: 'connected' | 'closed', reason?: string) => void;
  now?: () => number;
}): StreamSessionGate {
  const now = options.now ?? Date.now;
  // Ids already admitted, until their token expires: a token opens one socket, once.
  const used = new Map<string, number>();
  return {
    required: options.required,
    admit(token, name, version) {
      const refuse = (why: string) => new FoglineError('FOGLINE_ERR_SESSION_REFUSED', `Session refused: ${why}`);
      const key = options.publicKey();
      if (!key) throw refuse('this node has not learnt the registry key yet');
      const claims = decodeSessionToken(token, key, now());
      if ('refused' in claims) throw refuse(claims.refused);
      if (claims.node !== options.holder()) throw refuse('the session was placed on another node');
      if (claims.model !== options.modelClaim(name, version)) throw refuse(`the session is for ${claims.model}, not this model`);
      for (const [id, exp] of used) if (exp < now()) used.delete(id);
      if (used.has(claims.sid)) throw refuse('the session token has been used already');
      used.set(claims.sid, claims.exp);
      return { id: claims.sid, idleMs: Math.max(1000, claims.idleMs) };
    },
    opened: (id) => options.report(id, 'connected'),
    closed: (id, reason) => options.report(id, 'closed', reason),
  };
}
