import type { Kysely } from 'kysely';
import { type ChangeEvent, type ChangePublisher, NO_CHANGES } from '../cluster/change-event.js';
import type { JoinPolicy } from '../contracts/join-policy.js';
import type { TokenRole } from '../contracts/roles.js';
import type { Database, TokensTable } from '../store/schema.js';
import { generateToken, hashSecret } from './token-secret.js';

export interface TokenRecord {
  id: string;
  name: string;
  role: TokenRole;
  nodeId: string | null;
  expiresAt: number | null;
  maxUses: number | null;
  uses: number;
  revokedAt: number | null;
  createdAt: number;
  createdBy: string | null;
  /** Join tokens: what they decide for the nodes that enrol with them (null: the node decides). */
  joinPolicy: JoinPolicy | null;
}

/**
 * A looked-up token: its record, the hash its secret must match, and for node credentials whether
 * the node waits for approval and whether a rotation of its credentials is asked for or under way
 * (so that a heartbeat reads nothing more when none is: src/nodes/credential-rotation.ts).
 */
export type FoundToken = TokenRecord & { secretHash: string; nodePending: boolean; nodeRotating: boolean };

export interface NewToken {
  /** Normally random; fixed only for the bootstrap admin token, so that two servers cannot both create one. */
  id?: string;
  name: string;
  role: TokenRole;
  nodeId?: string | null;
  expiresAt?: number | null;
  maxUses?: number | null;
  createdBy?: string | null;
  joinPolicy?: JoinPolicy | null;
  /** When it was made (default: now); callers with their own clock pass theirs, so that its lifetime adds up. */
  createdAt?: number;
}

/** How long a looked-up token is trusted without asking the database again. */
export const TOKEN_CACHE_MS = 5000;
/** The most a looked-up token is trusted while other replicas' changes may go unannounced (Redis away). */
export const UNANNOUNCED_CACHE_MS = 1000;
const TOKEN_CACHE_LIMIT = 100_000;

/**
 * Stores tokens by the hash of their secret; the plain token is returned once, at creation.
 * Lookups are cached for a few seconds, because every heartbeat authenticates. A revocation is
 * announced (token-revoked): every replica that hears it drops the entry at once (forgetFor);
 * while other replicas' events may be missed (Redis away) an entry lives UNANNOUNCED_CACHE_MS at most.
 */
export class TokenRepository {
  private readonly cache = new Map<string, { row: FoundToken; at: number }>();
  /** Where its changes are announced (the control plane's ChangeSignal). */
  changes: ChangePublisher = NO_CHANGES;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly cacheMs = TOKEN_CACHE_MS,
  ) {}

  async create(input: NewToken, db: Kysely<Database> = this.db): Promise<{ record: TokenRecord; token: string }> {
    const { id, secret, token } = generateToken(input.id);
    const row: TokensTable = {
      id,
      name: input.name,
      role: input.role,
      secret_hash: hashSecret(secret),
      node_id: input.nodeId ?? null,
      expires_at: input.expiresAt ?? null,
      max_uses: input.maxUses ?? null,
      uses: 0,
      revoked_at: null,
      created_at: input.createdAt ?? Date.now(),
      created_by: input.createdBy ?? null,
      join_policy: input.joinPolicy ? JSON.stringify(input.joinPolicy) : null,
    };
    await db.insertInto('tokens').values(row).execute();
    // Inside a caller's transaction the caller announces it once committed (see createWith).
    if (!db.isTransaction) this.changes.publish({ kind: 'token-created', tokenId: id, role: input.role });
    return { record: toRecord(row), token };
  }

  /**
   * Creates a token and what belongs with it (an inference token's scopes) in one transaction,
   * and announces it once committed.
   */
  async createWith(
    input: NewToken,
    alongside: (trx: Kysely<Database>, record: TokenRecord) => Promise<void>,
  ): Promise<{ record: TokenRecord; token: string }> {
    const created = await this.db.transaction().execute(async (trx) => {
      const made = await this.create(input, trx);
      await alongside(trx, made.record);
      return made;
    });
    this.changes.publish({ kind: 'token-created', tokenId: created.record.id, role: created.record.role });
    return created;
  }

  async find(id: string): Promise<FoundToken | undefined> {
    const cached = this.cache.get(id);
    const trustMs = this.changes.complete ? this.cacheMs : Math.min(this.cacheMs, UNANNOUNCED_CACHE_MS);
    if (cached && Date.now() - cached.at < trustMs) return cached.row;
    // A node credential carries its node's approval and rotation state (read in the same query).
    const row = await this.db
      .selectFrom('tokens')
      .leftJoin('nodes', 'nodes.id', 'tokens.node_id')
      .selectAll('tokens')
      .select([
        'nodes.pending as node_pending',
        'nodes.rotate_credential as node_rotate',
        'nodes.next_credential_id as node_next_credential',
      ])
      .where('tokens.id', '=', id)
      .executeTakeFirst();
    if (!row) return undefined;
    const found: FoundToken = {
      ...toRecord(row),
      secretHash: row.secret_hash,
      nodePending: row.node_pending === 1,
      nodeRotating: row.node_rotate === 1 || (row.node_next_credential ?? null) !== null,
    };
    if (this.cache.size >= TOKEN_CACHE_LIMIT) this.cache.clear();
    this.cache.set(id, { row: found, at: Date.now() });
    return found;
  }

  async list(options: { includeRevoked?: boolean; includeNodeCredentials?: boolean } = {}): Promise<TokenRecord[]> {
    let query = this.db.selectFrom('tokens').selectAll().orderBy('created_at').orderBy('id');
    if (!options.includeRevoked) query = query.where('revoked_at', 'is', null);
    if (!options.includeNodeCredentials) query = query.where('role', '!=', 'node');
    return (await query.execute()).map(toRecord);
  }

  /** Marks a token revoked; false when there is no such token or it was already revoked. */
  async revoke(id: string, db: Kysely<Database> = this.db): Promise<boolean> {
    this.cache.delete(id);
    const result = await db
      .updateTable('tokens')
      .set({ revoked_at: Date.now() })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    const revoked = Number(result.numUpdatedRows) > 0;
    // Inside a caller's transaction (a credential rotation) the caller announces it once committed.
    if (revoked && !db.isTransaction) {
      const row = await db.selectFrom('tokens').select('role').where('id', '=', id).executeTakeFirst();
      this.changes.publish({ kind: 'token-revoked', tokenId: id, role: (row?.role as TokenRole | undefined) ?? null });
    }
    return revoked;
  }

  /** Makes a token expire at `at` at the latest (a node's replaced credential, after its overlap). */
  async expireBy(id: string, at: number, db: Kysely<Database> = this.db): Promise<void> {
    this.cache.delete(id);
    await db
      .updateTable('tokens')
      .set({ expires_at: at })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', at)]))
      .execute();
    if (!db.isTransaction) this.changes.publish({ kind: 'token-expiry-moved', tokenId: id, role: null });
  }

  /** Drops a node's credentials from the cache: the next request reads them (and the node's approval) again. */
  forgetNode(nodeId: string): void {
    for (const [id, entry] of this.cache) if (entry.row.nodeId === nodeId) this.cache.delete(id);
  }

  /** Drops what `event` (this replica's or another's) makes stale: the next lookup reads the database. */
  forgetFor(event: ChangeEvent): void {
    switch (event.kind) {
      case 'token-revoked':
      case 'token-expiry-moved':
        this.cache.delete(event.tokenId);
        break;
      case 'node-changed':
      case 'node-deleted':
        // A node's approval and rotation state come with its credentials' lookups.
        this.forgetNode(event.nodeId);
        break;
      case 'resync':
        this.cache.clear();
        break;
    }
  }

  async revokeForNode(nodeId: string, db: Kysely<Database> = this.db, at = Date.now()): Promise<void> {
    this.forgetNode(nodeId);
    await db.updateTable('tokens').set({ revoked_at: at }).where('node_id', '=', nodeId).where('revoked_at', 'is', null).execute();
  }

  /**
   * Takes one use of a join token, atomically: two agents racing for the last use cannot both
   * get it. Returns false when the token is used up, revoked or expired.
   */
  async consumeUse(id: string, now: number, db: Kysely<Database> = this.db): Promise<boolean> {
    const result = await db
      .updateTable('tokens')
      .set((eb) => ({ uses: eb('uses', '+', 1) }))
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
      .where((eb) => eb.or([eb('max_uses', 'is', null), eb('uses', '<', eb.ref('max_uses'))]))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async countByRole(role: TokenRole): Promise<number> {
    const row = await this.db
      .selectFrom('tokens')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('role', '=', role)
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }
}

function toRecord(row: TokensTable): TokenRecord {
  return {
    id: row.id,
    name: row.name,
    role: row.role as TokenRole,
    nodeId: row.node_id,
    expiresAt: row.expires_at,
    maxUses: row.max_uses,
    uses: row.uses,
    revokedAt: row.revoked_at,
    createdAt: row.created_at,
    createdBy: row.created_by,
    joinPolicy: row.join_policy === null ? null : (JSON.parse(row.join_policy) as JoinPolicy),
  };
}
