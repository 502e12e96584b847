import type { Kysely } from 'kysely';
import type { SessionKind, SessionState, SessionView } from '../contracts/sessions.js';
import { FoglineError } from '../errors/fogline-error.js';
import type { Database } from '../store/schema.js';

export interface SessionRecord {
  id: string;
  /** The deployment. */
  model: string;
  kind: SessionKind;
  placement: 'edge' | 'cloud';
  nodeId: string | null;
  nodeName: string | null;
  state: SessionState;
  reason: string;
  createdAt: number;
  /** A pending session not connected by then is dropped. */
  expiresAt: number;
  connectedAt: number | null;
  closedAt: number | null;
  closeReason: string | null;
}

export type SessionPatch = Partial<Pick<SessionRecord, 'placement' | 'nodeId' | 'nodeName' | 'reason' | 'expiresAt'>>;

/**
 * Inference sessions as the database keeps them (migration 0014), so that a restarted control
 * plane lists them and keeps to the per-node limit. State changes are conditional updates
 * (`pending` → `connected` → `closed`, never back), so concurrent reports and sweeps cannot undo
 * each other.
 */
export class SessionRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(session: SessionRecord): Promise<void> {
    await this.db
      .insertInto('inference_sessions')
      .values({
        id: session.id,
        deployment_name: session.model,
        kind: session.kind,
        placement: session.placement,
        node_id: session.nodeId,
        node_name: session.nodeName,
        state: session.state,
        reason: session.reason,
        created_at: session.createdAt,
        expires_at: session.expiresAt,
        connected_at: session.connectedAt,
        closed_at: session.closedAt,
        close_reason: session.closeReason,
      })
      .execute();
  }

  /** Changes where a pending session goes (an on-demand load finished, or fell back to the cloud); false when it is no longer pending. */
  async updatePending(id: string, patch: SessionPatch): Promise<boolean> {
    const result = await this.db
      .updateTable('inference_sessions')
      .set({
        ...(patch.placement !== undefined ? { placement: patch.placement } : {}),
        ...(patch.nodeId !== undefined ? { node_id: patch.nodeId } : {}),
        ...(patch.nodeName !== undefined ? { node_name: patch.nodeName } : {}),
        ...(patch.reason !== undefined ? { reason: patch.reason } : {}),
        ...(patch.expiresAt !== undefined ? { expires_at: patch.expiresAt } : {}),
      })
      .where('id', '=', id)
      .where('state', '=', 'pending')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async find(id: string): Promise<SessionRecord | undefined> {
    const row = await this.db.selectFrom('inference_sessions').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  async get(id: string): Promise<SessionRecord> {
    const session = await this.find(id);
    if (!session) throw new FoglineError('FOGLINE_ERR_SESSION_NOT_FOUND', `No session ${id}`);
    return session;
  }

  /** Open (pending or connected) sessions, and closed ones too with `all`, oldest first. */
  async list(all = false): Promise<SessionRecord[]> {
    let query = this.db.selectFrom('inference_sessions').selectAll();
    if (!all) query = query.where('state', '!=', 'closed');
    return (await query.orderBy('created_at').orderBy('id').execute()).map(toRecord);
  }

  /** Open sessions per node id (cloud sessions are not counted). */
  async openPerNode(): Promise<Map<string, number>> {
    const rows = await this.db
      .selectFrom('inference_sessions')
      .select(['node_id', (eb) => eb.fn.countAll<string | number>().as('count')])
      .where('state', '!=', 'closed')
      .where('node_id', 'is not', null)
      .groupBy('node_id')
      .execute();
    return new Map(rows.map((row) => [row.node_id as string, Number(row.count)]));
  }

  /** pending → connected; false when the session was not pending. */
  async markConnected(id: string, at: number): Promise<boolean> {
    const result = await this.db
      .updateTable('inference_sessions')
      .set({ state: 'connected', connected_at: at })
      .where('id', '=', id)
      .where('state', '=', 'pending')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Closes the given sessions that are still open; returns how many it closed. */
  async close(ids: readonly string[], reason: string, at: number): Promise<number> {
    if (ids.length === 0) return 0;
    const result = await this.db
      .updateTable('inference_sessions')
      .set({ state: 'closed', closed_at: at, close_reason: reason.slice(0, 200) })
      .where('id', 'in', [...ids])
      .where('state', '!=', 'closed')
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /** Closes pending sessions whose connect deadline passed before `now`. */
  async expirePending(now: number): Promise<number> {
    const result = await this.db
      .updateTable('inference_sessions')
      .set({ state: 'closed', closed_at: now, close_reason: 'never connected' })
      .where('state', '=', 'pending')
      .where('expires_at', '<', now)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /** Deletes sessions closed before `before`. */
  async forgetClosed(before: number): Promise<number> {
    const result = await this.db
      .deleteFrom('inference_sessions')
      .where('state', '=', 'closed')
      .where('closed_at', '<', before)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

export function toSessionView(s: SessionRecord): SessionView {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: s.id,
    model: s.model,
    kind: s.kind,
    placement: s.placement,
    nodeId: s.nodeId,
    nodeName: s.nodeName,
    state: s.state,
    reason: s.reason,
    createdAt: new Date(s.createdAt).toISOString(),
    connectedAt: iso(s.connectedAt),
    closedAt: iso(s.closedAt),
    closeReason: s.closeReason,
  };
}

function toRecord(row: Database['inference_sessions']): SessionRecord {
  const num = (value: number | null) => (value === null ? null : Number(value));
  return {
    id: row.id,
    model: row.deployment_name,
    kind: row.kind as SessionKind,
    placement: row.placement === 'edge' ? 'edge' : 'cloud',
    nodeId: row.node_id,
    nodeName: row.node_name,
    state: row.state as SessionState,
    reason: row.reason,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    connectedAt: num(row.connected_at),
    closedAt: num(row.closed_at),
    closeReason: row.close_reason,
  };
}
