import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import { isUniqueViolation } from '../store/unique-violation.js';

export interface OnDemandPlacement {
  deployment: string;
  nodeId: string;
  createdAt: number;
  lastUsedAt: number;
}

/**
 * Nodes a deployment was placed on for an inference session, beyond its node selector (issue 7:
 * load on demand). Desired state treats them as placed like any other target, so the node
 * downloads the version the rollout assigns it and follows later rollouts; the session sweep
 * releases them once no session has been open there for an idle period. A deleted deployment
 * takes its rows with it (foreign key, cascade).
 */
export class OnDemandPlacements {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => number = Date.now,
  ) {}

  /** Every on-demand placement. */
  async list(): Promise<OnDemandPlacement[]> {
    const rows = await this.db.selectFrom('on_demand_placements').selectAll().orderBy('deployment_name').orderBy('node_id').execute();
    return rows.map((row) => ({
      deployment: row.deployment_name,
      nodeId: row.node_id,
      createdAt: Number(row.created_at),
      lastUsedAt: Number(row.last_used_at),
    }));
  }

  /** Node ids by deployment name. */
  async byDeployment(): Promise<Map<string, string[]>> {
    const map = new Map<string, string[]>();
    for (const placement of await this.list()) map.set(placement.deployment, [...(map.get(placement.deployment) ?? []), placement.nodeId]);
    return map;
  }

  /** Places `deployment` on `nodeId` (again: only marks it used); false when it was there already. */
  async add(deployment: string, nodeId: string): Promise<boolean> {
    const now = this.now();
    try {
      await this.db
        .insertInto('on_demand_placements')
        .values({ deployment_name: deployment, node_id: nodeId, created_at: now, last_used_at: now })
        .execute();
      return true;
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      await this.touch(deployment, nodeId);
      return false;
    }
  }

  /** A session is open there now: the idle period starts over. */
  async touch(deployment: string, nodeId: string): Promise<void> {
    await this.db
      .updateTable('on_demand_placements')
      .set({ last_used_at: this.now() })
      .where('deployment_name', '=', deployment)
      .where('node_id', '=', nodeId)
      .execute();
  }

  /** True when there was one to remove. */
  async remove(deployment: string, nodeId: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('on_demand_placements')
      .where('deployment_name', '=', deployment)
      .where('node_id', '=', nodeId)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}
