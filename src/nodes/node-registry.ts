import type { Kysely } from 'kysely';
import type { AgentInfo, HeartbeatRequest, NodeResources, NodeRole, NodeView } from '../contracts/nodes.js';
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

/** The cluster's nodes as the database remembers them; status is derived from heartbeat age. */
export class NodeRegistry {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly tokens: TokenRepository,
    private readonly nodeTimeoutMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async insert(node: { id: string; name: string; role: NodeRole; labels: LabelMap }, db = this.db): Promise<void> {
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
        last_heartbeat_at: null,
        enrolled_at: now,
        updated_at: now,
      })
      .execute();
  }

  async nameTaken(name: string, db = this.db): Promise<boolean> {
    const row = await db.selectFrom('nodes').select('id').where('name', '=', name).executeTakeFirst();
    return row !== undefined;
  }

  /** Records a heartbeat; false when the node no longer exists. */
  async recordHeartbeat(nodeId: string, heartbeat: HeartbeatRequest): Promise<boolean> {
    const now = this.now();
    const result = await this.db
      .updateTable('nodes')
      .set({
        resources: JSON.stringify(heartbeat.resources),
        agent: JSON.stringify(heartbeat.agent),
        last_heartbeat_at: now,
        updated_at: now,
      })
      .where('id', '=', nodeId)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
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
    return this.db.transaction().execute(async (trx) => {
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
  }

  async setCordoned(idOrName: string, cordoned: boolean): Promise<NodeView> {
    const node = await this.get(idOrName);
    await this.db
      .updateTable('nodes')
      .set({ cordoned: cordoned ? 1 : 0, updated_at: this.now() })
      .where('id', '=', node.id)
      .execute();
    return { ...node, cordoned };
  }

  /** Deletes the node and revokes its credentials in one transaction. */
  async delete(idOrName: string): Promise<NodeView> {
    return this.db.transaction().execute(async (trx) => {
      const node = await this.getIn(trx, idOrName);
      await this.tokens.revokeForNode(node.id, trx, this.now());
      await trx.deleteFrom('nodes').where('id', '=', node.id).execute();
      return node;
    });
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

  private toView(row: NodesTable, now: number): NodeView {
    return {
      id: row.id,
      name: row.name,
      role: row.role as NodeRole,
      labels: JSON.parse(row.labels) as LabelMap,
      status: nodeStatus(row.last_heartbeat_at, now, this.nodeTimeoutMs),
      cordoned: row.cordoned === 1,
      lastHeartbeatAt: row.last_heartbeat_at === null ? null : new Date(row.last_heartbeat_at).toISOString(),
      heartbeatAgeSeconds: row.last_heartbeat_at === null ? null : Math.max(0, (now - row.last_heartbeat_at) / 1000),
      resources: row.resources === null ? null : (JSON.parse(row.resources) as NodeResources),
      agent: row.agent === null ? null : (JSON.parse(row.agent) as AgentInfo),
      enrolledAt: new Date(row.enrolled_at).toISOString(),
    };
  }
}
