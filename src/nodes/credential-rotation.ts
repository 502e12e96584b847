import type { Kysely } from 'kysely';
import type { TokenRepository } from '../auth/token-repository.js';
import { newTokenId } from '../auth/token-secret.js';
import type { IssuedCredential, NodeView } from '../contracts/nodes.js';
import type { Database } from '../store/schema.js';
import type { NodeRegistry } from './node-registry.js';

/** How long a replaced credential still works once the agent has used its new one (requests already on their way). */
export const CREDENTIAL_OVERLAP_MS = 30_000;

/** What a heartbeat changed about the node's credentials, for the audit log. */
export type RotationStep = { issued: IssuedCredential & { id: string } } | { retired: string } | undefined;

/**
 * Node credentials that change while the agent runs, handed over through heartbeats so that a
 * crash at any step never locks the agent out:
 *
 * 1. A rotation is due when an operator asks for one (`fogline nodes rotate-credential`) or when
 *    the current credential has lived half its lifetime (`--credential-ttl`).
 * 2. The next heartbeat with the current credential gets a new one in its answer. The current one
 *    keeps working: if the answer is lost, or the agent dies before it has saved the new one, the
 *    next heartbeat with the current credential gets another new one (and the unused one is revoked).
 * 3. The agent saves the new credential to node.json (a temporary file renamed over it), and only
 *    then uses it. A restart finds either the old file (step 2 again) or the new one (step 4).
 * 4. The first heartbeat with the new credential makes it the current one; the old one expires
 *    CREDENTIAL_OVERLAP_MS later, so that requests already sent with it still get through.
 */
export class CredentialRotation {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly tokens: TokenRepository,
    private readonly nodes: NodeRegistry,
    private readonly overlapMs = CREDENTIAL_OVERLAP_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** An operator asks for a new credential, handed out with the node's next heartbeat; optionally a new lifetime from then on. */
  async request(idOrName: string, credentialTtlSeconds?: number): Promise<NodeView> {
    const node = await this.nodes.get(idOrName);
    await this.db
      .updateTable('nodes')
      .set({
        rotate_credential: 1,
        ...(credentialTtlSeconds !== undefined ? { credential_ttl_seconds: credentialTtlSeconds } : {}),
        updated_at: this.now(),
      })
      .where('id', '=', node.id)
      .execute();
    // Its credentials' cached lookups say no rotation is asked for: the next heartbeat must see this
    // one, on whichever replica it arrives (the event makes each forget them).
    this.tokens.forgetNode(node.id);
    this.tokens.changes.publish({ kind: 'node-changed', nodeId: node.id, change: 'credential' });
    return this.nodes.get(node.id);
  }

  /**
   * Called with every heartbeat of `nodeId` that came with credential `tokenId`: returns what
   * changed (a credential to hand to the agent, or the old one retired), or undefined.
   */
  async onHeartbeat(nodeId: string, tokenId: string): Promise<RotationStep> {
    // The authentication has just looked the credential up (cached): it says whether a rotation is
    // asked for or under way, so most heartbeats read nothing more. One asked for through another
    // replica is announced (node-changed), which drops the cached lookup here too.
    const presented = await this.tokens.find(tokenId);
    if (!presented) return undefined;
    const halfLife = presented.expiresAt !== null && this.now() >= (presented.createdAt + presented.expiresAt) / 2;
    if (!presented.nodeRotating && !halfLife) return undefined;
    const node = await this.db
      .selectFrom('nodes')
      .select(['credential_id', 'next_credential_id', 'rotate_credential', 'credential_ttl_seconds'])
      .where('id', '=', nodeId)
      .executeTakeFirst();
    if (!node) return undefined;
    if (tokenId === node.next_credential_id) return this.confirm(nodeId, tokenId, node.credential_id);
    // Only the current credential gets a new one: not an old one still in its overlap.
    if (node.credential_id !== null && tokenId !== node.credential_id) return undefined;
    if (node.rotate_credential !== 1 && node.next_credential_id === null && !halfLife) return undefined;
    const ttlSeconds =
      node.credential_ttl_seconds ?? (presented.expiresAt === null ? null : Math.round((presented.expiresAt - presented.createdAt) / 1000));
    return this.issue(nodeId, tokenId, node.next_credential_id, ttlSeconds);
  }

  /** Step 2: a new credential replaces any unused one; only if no other heartbeat got there first. */
  private async issue(nodeId: string, current: string, unused: string | null, ttlSeconds: number | null): Promise<RotationStep> {
    const now = this.now();
    const id = newTokenId();
    const expiresAt = ttlSeconds === null ? null : now + ttlSeconds * 1000;
    const token = await this.db
      .transaction()
      .execute(async (trx) => {
        const claimed = await trx
          .updateTable('nodes')
          .set({ next_credential_id: id, rotate_credential: 0, credential_id: current, updated_at: now })
          .where('id', '=', nodeId)
          .where((eb) => (unused === null ? eb('next_credential_id', 'is', null) : eb('next_credential_id', '=', unused)))
          .executeTakeFirst();
        if (Number(claimed.numUpdatedRows) === 0) throw new RaceLost();
        if (unused !== null) await this.tokens.revoke(unused, trx);
        const node = await trx.selectFrom('nodes').select('name').where('id', '=', nodeId).executeTakeFirstOrThrow();
        const created = await this.tokens.create(
          { id, name: `node ${node.name}`, role: 'node', nodeId, expiresAt, createdBy: current, createdAt: now },
          trx,
        );
        return created.token;
      })
      .catch((error: unknown) => {
        if (error instanceof RaceLost) return undefined;
        throw error;
      });
    if (token === undefined) return undefined;
    if (unused !== null) this.tokens.changes.publish({ kind: 'token-revoked', tokenId: unused, role: 'node' });
    return { issued: { id, credential: token, expiresAt: expiresAt === null ? null : new Date(expiresAt).toISOString() } };
  }

  /** Step 4: the new credential is in use; the old one stops working after the overlap. */
  private async confirm(nodeId: string, next: string, old: string | null): Promise<RotationStep> {
    const at = this.now() + this.overlapMs;
    const confirmed = await this.db.transaction().execute(async (trx) => {
      const moved = await trx
        .updateTable('nodes')
        .set({ credential_id: next, next_credential_id: null, updated_at: this.now() })
        .where('id', '=', nodeId)
        .where('next_credential_id', '=', next)
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) === 0) return false;
      if (old !== null && old !== next) await this.tokens.expireBy(old, at, trx);
      return true;
    });
    if (confirmed && old !== null && old !== next) this.tokens.changes.publish({ kind: 'token-expiry-moved', tokenId: old, role: 'node' });
    return confirmed && old !== null ? { retired: old } : undefined;
  }
}

class RaceLost extends Error {}
