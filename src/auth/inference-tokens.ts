import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';

/** What an inference token covers on agents: deployments' /v2 routes, and /metrics. */
export interface InferenceScopes {
  deployments: string[];
  metrics: boolean;
}

/** An inference token that may still be used, as the control plane hands it to agents. */
export interface InferenceGrant extends InferenceScopes {
  id: string;
  /** SHA-256 of the secret, hex: what the agent checks a presented token against. */
  secretHash: string;
  expiresAt: number | null;
}

const METRICS_SCOPE = 'metrics';
const DEPLOYMENT_PREFIX = 'deployment:';

/** The rows of `token_scopes` for `scopes`. */
export function scopeRows(scopes: InferenceScopes): string[] {
  return [...new Set(scopes.deployments)].map((name) => `${DEPLOYMENT_PREFIX}${name}`).concat(scopes.metrics ? [METRICS_SCOPE] : []);
}

function fromRows(rows: readonly string[]): InferenceScopes {
  const deployments = rows.filter((row) => row.startsWith(DEPLOYMENT_PREFIX)).map((row) => row.slice(DEPLOYMENT_PREFIX.length));
  return { deployments: deployments.sort(), metrics: rows.includes(METRICS_SCOPE) };
}

/**
 * The scopes of inference tokens (table `token_scopes`, beside `tokens`). The token itself is an
 * ordinary row of `tokens` with role `inference`: created, listed and revoked like any other.
 */
export class InferenceTokens {
  constructor(private readonly db: Kysely<Database>) {}

  /** Stores a new token's scopes; pass the transaction that created the token. */
  async setScopes(tokenId: string, scopes: InferenceScopes, db: Kysely<Database> = this.db): Promise<void> {
    const rows = scopeRows(scopes).map((scope) => ({ token_id: tokenId, scope }));
    if (rows.length > 0) await db.insertInto('token_scopes').values(rows).execute();
  }

  /** The scopes of each of `ids` that has any (for listing tokens). */
  async scopesOf(ids: readonly string[]): Promise<Map<string, InferenceScopes>> {
    if (ids.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('token_scopes')
      .select(['token_id', 'scope'])
      .where('token_id', 'in', [...ids])
      .execute();
    return groupScopes(rows);
  }

  /** Every inference token neither revoked nor expired at `now`, with its scopes: what agents may accept. */
  async active(now = Date.now()): Promise<InferenceGrant[]> {
    const rows = await this.db
      .selectFrom('tokens')
      .innerJoin('token_scopes', 'token_scopes.token_id', 'tokens.id')
      .select(['tokens.id as id', 'tokens.secret_hash as secretHash', 'tokens.expires_at as expiresAt', 'token_scopes.scope as scope'])
      .where('tokens.role', '=', 'inference')
      .where('tokens.revoked_at', 'is', null)
      .where((eb) => eb.or([eb('tokens.expires_at', 'is', null), eb('tokens.expires_at', '>', now)]))
      .orderBy('tokens.id')
      .execute();
    const scopes = groupScopes(rows.map((row) => ({ token_id: row.id, scope: row.scope })));
    const seen = new Map<string, InferenceGrant>();
    for (const row of rows) {
      if (seen.has(row.id)) continue;
      // bigint columns come back as strings on some drivers.
      const expiresAt = row.expiresAt === null ? null : Number(row.expiresAt);
      seen.set(row.id, { id: row.id, secretHash: row.secretHash, expiresAt, ...scopes.get(row.id)! });
    }
    return [...seen.values()];
  }
}

function groupScopes(rows: readonly { token_id: string; scope: string }[]): Map<string, InferenceScopes> {
  const byToken = new Map<string, string[]>();
  for (const row of rows) byToken.set(row.token_id, [...(byToken.get(row.token_id) ?? []), row.scope]);
  return new Map([...byToken].map(([id, list]) => [id, fromRows(list)]));
}
