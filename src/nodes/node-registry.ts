import type { Kysely, Selectable } from 'kysely';
import { type ChangeEvent, type ChangePublisher, NO_CHANGES } from '../cluster/change-event.js';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import {
  type AgentInfo,
  type HeartbeatRequest,
  InferenceUrl,
  type NodeResources,
  type NodeRole,
  type NodeView,
} from '../contracts/nodes.js';
import { FoglineError } from '../errors/fogline-error.js';
import type { Database, NodesTable } from '../store/schema.js';
import type { TokenRepository } from '../auth/token-repository.js';
import { assertValidLabels, type LabelMap, matchesSelector } from './labels.js';
import { nodeStatus } from './node-status.js';

export interface NodeFilter {
  selector?: LabelMap;
  status?: NodeView['status'];
  role?: NodeRole;
}

export interface HeartbeatOutcome {
  /** False when the node no longer exists. */
  found: boolean;
  /** Set when the heartbeat named another inference URL than the stored one (ignored). */
  ignoredUrl?: { stored: string; reported: string };
}

/** What enrolment accepts as an inference URL (http or https): a heartbeat's is taken only in that form. */
const inferenceUrl = TypeCompiler.Compile(InferenceUrl);

/** The cluster's nodes as the database remembers them; status is derived from heartbeat age. */
export class NodeRegistry {
  /** The inference URL each node's agent named in its last heartbeat to this process. */
  private readonly reportedUrls = new Map<string, string>();
  /** Where its changes are announced (the control plane's ChangeSignal); enrolment announces through it too. */
  changes: ChangePublisher = NO_CHANGES;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly tokens: TokenRepository,
    private readonly nodeTimeoutMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async insert(
    node: {
      id: string;
      name: string;
      role: NodeRole;
      labels: LabelMap;
      inferenceUrl?: string | null;
      /** Waits for an operator's approval (a --require-approval join token). */
      pending?: boolean;
      credentialId?: string | null;
      credentialTtlSeconds?: number | null;
    },
    db = this.db,
  ): Promise<void> {
    const now = this.now();
    await db
      .insertInto('nodes')
      .values({
        id: node.id,
        name: node.name,
        role: node.role,
        labels: JSON.stringify(node.labels),
        cordoned: 0,
        resources: null,
        agent: null,
        inference_url: node.inferenceUrl ?? null,
        last_heartbeat_at: null,
        enrolled_at: now,
        updated_at: now,
        pending: node.pending ? 1 : 0,
        credential_id: node.credentialId ?? null,
        credential_ttl_seconds: node.credentialTtlSeconds ?? null,
      })
      .execute();
  }

  async nameTaken(name: string, db = this.db): Promise<boolean> {
    const row = await db.selectFrom('nodes').select('id').where('name', '=', name).executeTakeFirst();
    return row !== undefined;
  }

  /**
   * Records a heartbeat; `found` is false when the node no longer exists. The agent's
   * `inferenceUrl` is stored as what it says (`agent`), never as where the control plane calls it:
   * that URL is fixed at enrolment, or set here once for a node that enrolled without one (an
   * agent older than issue 14). `ignoredUrl` tells the caller, once per new value, that the
   * heartbeat named another URL than the stored one.
   */
  async recordHeartbeat(nodeId: string, heartbeat: HeartbeatRequest): Promise<HeartbeatOutcome> {
    const now = this.now();
    const reported = heartbeat.agent.inferenceUrl;
    const result = await this.db
      .updateTable('nodes')
      .set((eb) => ({
        resources: JSON.stringify(heartbeat.resources),
        agent: JSON.stringify(heartbeat.agent),
        inference_url: eb.fn.coalesce('inference_url', eb.val(inferenceUrl.Check(reported) ? reported : null)),
        last_heartbeat_at: now,
        updated_at: now,
      }))
      .where('id', '=', nodeId)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) return { found: false };
    // The hot path is one UPDATE: the stored URL is read only when this agent names a URL it did
    // not name in its last heartbeat here (the first one after a restart, or a change).
    if (this.reportedUrls.get(nodeId) === reported) return { found: true };
    this.reportedUrls.set(nodeId, reported);
    const row = await this.db.selectFrom('nodes').select('inference_url').where('id', '=', nodeId).executeTakeFirst();
    const stored = row?.inference_url ?? null;
    return stored !== null && stored !== reported ? { found: true, ignoredUrl: { stored, reported } } : { found: true };
  }

  /** An operator moves where the control plane calls a node's agent (`fogline nodes set-url`). */
  async setInferenceUrl(idOrName: string, url: string): Promise<NodeView> {
    const node = await this.get(idOrName);
    await this.db.updateTable('nodes').set({ inference_url: url, updated_at: this.now() }).where('id', '=', node.id).execute();
    this.reportedUrls.delete(node.id);
    this.changes.publish({ kind: 'node-changed', nodeId: node.id, change: 'inference-url' });
    return { ...node, inferenceUrl: url };
  }

  async list(filter: NodeFilter = {}): Promise<NodeView[]> {
    let query = this.db.selectFrom('nodes').selectAll().orderBy('name');
    if (filter.role) query = query.where('role', '=', filter.role);
    const now = this.now();
    return (await query.execute())
      .map((row) => this.toView(row, now))
      .filter((node) => !filter.selector || matchesSelector(node.labels, filter.selector))
      .filter((node) => !filter.status || node.status === filter.status);
  }

  /** Finds a node by id or by name. */
  async get(idOrName: string): Promise<NodeView> {
    return this.getIn(this.db, idOrName);
  }

  async updateLabels(idOrName: string, patch: { set?: LabelMap; remove?: string[] }): Promise<NodeView> {
    assertValidLabels(patch.set ?? {});
    const updated = await this.db.transaction().execute(async (trx) => {
      const node = await this.getIn(trx, idOrName);
      const labels: LabelMap = { ...node.labels, ...patch.set };
      for (const key of patch.remove ?? []) delete labels[key];
      assertValidLabels(labels);
      await trx
        .updateTable('nodes')
        .set({ labels: JSON.stringify(labels), updated_at: this.now() })
        .where('id', '=', node.id)
        .execute();
      return { ...node, labels };
    });
    this.changes.publish({ kind: 'node-changed', nodeId: updated.id, change: 'labels' });
    return updated;
  }

  async setCordoned(idOrName: string, cordoned: boolean): Promise<NodeView> {
    const node = await this.get(idOrName);
    await this.db
      .updateTable('nodes')
      .set({ cordoned: cordoned ? 1 : 0, updated_at: this.now() })
      .where('id', '=', node.id)
      .execute();
    this.changes.publish({ kind: 'node-changed', nodeId: node.id, change: 'cordon' });
    return { ...node, cordoned };
  }

  /** An operator lets a pending node take work (`fogline nodes approve`); approving an approved node changes nothing. */
  async approve(idOrName: string): Promise<NodeView> {
    const node = await this.get(idOrName);
    if (node.pending) {
      await this.db.updateTable('nodes').set({ pending: 0, updated_at: this.now() }).where('id', '=', node.id).execute();
      // Its credential's cached principal says pending: the next request must see the approval
      // (on every replica: the event makes each forget it).
      this.tokens.forgetNode(node.id);
      this.changes.publish({ kind: 'node-changed', nodeId: node.id, change: 'approved' });
    }
    return { ...node, pending: false };
  }

  /**
   * Deletes the node and revokes its credentials in one transaction; what it last reported about
   * deployments and drift goes with it (views also skip reports of nodes that are gone).
   */
  async delete(idOrName: string): Promise<NodeView> {
    const deleted = await this.db.transaction().execute(async (trx) => {
      const node = await this.getIn(trx, idOrName);
      await this.tokens.revokeForNode(node.id, trx, this.now());
      await trx.deleteFrom('deployment_node_status').where('node_id', '=', node.id).execute();
      await trx.deleteFrom('drift_reports').where('node_id', '=', node.id).execute();
      await trx.deleteFrom('nodes').where('id', '=', node.id).execute();
      return node;
    });
    this.reportedUrls.delete(deleted.id);
    // Its credentials were revoked inside the transaction: other replicas forget them now.
    this.changes.publish({ kind: 'node-deleted', nodeId: deleted.id });
    return deleted;
  }

  /** Drops what `event` makes stale: the URL a node's agent last named here is read again. */
  forgetFor(event: ChangeEvent): void {
    if (event.kind === 'node-changed' || event.kind === 'node-deleted') this.reportedUrls.delete(event.nodeId);
    else if (event.kind === 'resync') this.reportedUrls.clear();
  }

  private async getIn(db: Kysely<Database>, idOrName: string): Promise<NodeView> {
    const row = await db
      .selectFrom('nodes')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)]))
      .executeTakeFirst();
    if (!row) throw new FoglineError('FOGLINE_ERR_NODE_NOT_FOUND', `No node has the id or name "${idOrName}"`);
    return this.toView(row, this.now());
  }

  private toView(row: Selectable<NodesTable>, now: number): NodeView {
    return {
      id: row.id,
      name: row.name,
      role: row.role as NodeRole,
      labels: JSON.parse(row.labels) as LabelMap,
      status: nodeStatus(row.last_heartbeat_at, now, this.nodeTimeoutMs),
      cordoned: row.cordoned === 1,
      pending: row.pending === 1,
      ...(row.rotate_credential === 1
        ? { credentialRotation: 'requested' as const }
        : row.next_credential_id !== null
          ? { credentialRotation: 'delivered' as const }
          : {}),
      lastHeartbeatAt: row.last_heartbeat_at === null ? null : new Date(row.last_heartbeat_at).toISOString(),
      heartbeatAgeSeconds: row.last_heartbeat_at === null ? null : Math.max(0, (now - row.last_heartbeat_at) / 1000),
      resources: row.resources === null ? null : (JSON.parse(row.resources) as NodeResources),
      agent: row.agent === null ? null : (JSON.parse(row.agent) as AgentInfo),
      inferenceUrl: row.inference_url,
      enrolledAt: new Date(row.enrolled_at).toISOString(),
    };
  }
}
