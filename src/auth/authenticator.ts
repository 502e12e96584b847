import type { TokenRole } from '../contracts/roles.js';
import { FoglineError } from '../errors/fogline-error.js';
import type { FoundToken, TokenRepository } from './token-repository.js';
import { parseToken, secretMatches } from './token-secret.js';

/** Who is calling: resolved from the bearer token on every request. */
export interface Principal {
  tokenId: string;
  name: string;
  role: TokenRole;
  /** Set for node credentials: the only node this caller may act as. */
  nodeId: string | null;
  /** Node credentials of a node that waits for an operator's approval (`fogline nodes approve`). */
  pendingApproval?: boolean;
}

/**
 * Checks a bearer token: known id, matching secret (constant time), then not revoked and not
 * expired. Revocation and expiry are only reported to a caller who holds the right secret.
 */
export class Authenticator {
  constructor(
    private readonly tokens: TokenRepository,
    private readonly now: () => number = Date.now,
  ) {}

  async authenticate(authorization: string | undefined): Promise<Principal> {
    const record = await this.verify(bearerToken(authorization));
    return {
      tokenId: record.id,
      name: record.name,
      role: record.role,
      nodeId: record.nodeId,
      ...(record.nodeId !== null && record.nodePending ? { pendingApproval: true } : {}),
    };
  }

  /** Verifies a token string and returns its record; throws a coded 401 otherwise. */
  async verify(token: string): Promise<FoundToken> {
    const parts = parseToken(token);
    const record = parts ? await this.tokens.find(parts.id) : undefined;
    if (!parts || !record || !secretMatches(parts.secret, record.secretHash)) {
      throw new FoglineError('FOGLINE_ERR_AUTH_INVALID', 'The token is not valid: check FOGLINE_TOKEN or --token');
    }
    if (record.revokedAt !== null) throw new FoglineError('FOGLINE_ERR_AUTH_REVOKED');
    if (record.expiresAt !== null && record.expiresAt <= this.now()) {
      throw new FoglineError('FOGLINE_ERR_AUTH_EXPIRED');
    }
    return record;
  }
}

export function bearerToken(authorization: string | undefined): string {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!match) {
    throw new FoglineError('FOGLINE_ERR_AUTH_MISSING', 'Authorization: Bearer <token> is required (set FOGLINE_TOKEN or pass --token)');
  }
  return match[1] as string;
}
