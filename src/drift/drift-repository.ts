import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import {
  DRIFT_POLICY_DEFAULTS,
  DRIFT_TRIGGERS,
  type DriftAction,
  type DriftEvaluation,
  type DriftEventStatus,
  type DriftEventView,
  type DriftFinding,
  type DriftPolicyView,
  type DriftReport,
  type DriftReportView,
  type DriftTimelineEntry,
  type DriftTrigger,
  type SetDriftPolicyRequest,
} from '../contracts/drift.js';
import { FoglineError } from '../errors/fogline-error.js';
import type { Database, DriftEventsTable, DriftPoliciesTable } from '../store/schema.js';

type PolicySettings = Omit<DriftPolicyView, 'deployment' | 'createdAt' | 'updatedAt' | 'updatedBy'>;

const iso = (ms: number) => new Date(ms).toISOString();

function toEventView(row: DriftEventsTable, nodeName: string | null): DriftEventView {
  return {
    id: row.id,
    deployment: row.deployment_name,
    trigger: (DRIFT_TRIGGERS as readonly string[]).includes(row.trigger_kind) ? (row.trigger_kind as DriftTrigger) : 'drift',
    nodeId: row.node_id,
    nodeName,
    model: row.model,
    version: Number(row.version),
    findings: JSON.parse(row.findings) as DriftFinding[],
    action: row.action as DriftAction,
    status: row.status as DriftEventStatus,
    runId: row.run_id,
    challengerVersion: row.challenger_version === null ? null : Number(row.challenger_version),
    evaluation: row.evaluation === null ? null : (JSON.parse(row.evaluation) as DriftEvaluation),
    timeline: JSON.parse(row.timeline) as DriftTimelineEntry[],
    createdAt: iso(Number(row.created_at)),
    updatedAt: iso(Number(row.updated_at)),
  };
}

function toPolicyView(row: DriftPoliciesTable): DriftPolicyView {
  return {
    deployment: row.deployment_name,
    ...defaults(),
    ...(JSON.parse(row.config) as PolicySettings),
    createdAt: iso(Number(row.created_at)),
    updatedAt: iso(Number(row.updated_at)),
    updatedBy: row.updated_by,
  };
}

/** Drift policies, the newest report per node and deployment, and drift events (same queries on every dialect). */
export class DriftRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => number = Date.now,
  ) {}

  /** Creates or replaces a deployment's policy; fields left out keep their current value (or the default). */
  async setPolicy(deployment: string, patch: SetDriftPolicyRequest, by: string | null): Promise<DriftPolicyView> {
    const now = this.now();
    return this.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('drift_policies').selectAll().where('deployment_name', '=', deployment).executeTakeFirst();
      const current: PolicySettings = row ? { ...defaults(), ...(JSON.parse(row.config) as PolicySettings) } : defaults();
      const next: PolicySettings = { ...current, ...patch, dataset: patch.dataset ?? current.dataset };
      const config = JSON.stringify(next);
      if (row) {
        await trx
          .updateTable('drift_policies')
          .set({ config, updated_at: now, updated_by: by })
          .where('deployment_name', '=', deployment)
          .execute();
      } else {
        await trx
          .insertInto('drift_policies')
          .values({ deployment_name: deployment, config, created_at: now, updated_at: now, updated_by: by })
          .execute();
      }
      return {
        deployment,
        ...next,
        createdAt: iso(row ? Number(row.created_at) : now),
        updatedAt: iso(now),
        updatedBy: by,
      };
    });
  }

  async findPolicy(deployment: string): Promise<DriftPolicyView | undefined> {
    const row = await this.db.selectFrom('drift_policies').selectAll().where('deployment_name', '=', deployment).executeTakeFirst();
    return row && toPolicyView(row);
  }

  async getPolicy(deployment: string): Promise<DriftPolicyView> {
    const policy = await this.findPolicy(deployment);
    if (!policy) {
      throw new FoglineError(
        'FOGLINE_ERR_DRIFT_POLICY_NOT_FOUND',
        `Deployment ${deployment} has no drift policy (fogline drift policy set ${deployment} …)`,
      );
    }
    return policy;
  }

  async listPolicies(): Promise<DriftPolicyView[]> {
    // One query: the policies are read on every drift report and every pass of the drift loop.
    const rows = await this.db.selectFrom('drift_policies').selectAll().orderBy('deployment_name').execute();
    return rows.map(toPolicyView);
  }

  async deletePolicy(deployment: string): Promise<void> {
    const deleted = await this.db.deleteFrom('drift_policies').where('deployment_name', '=', deployment).executeTakeFirst();
    if (Number(deleted.numDeletedRows) === 0) await this.getPolicy(deployment);
  }

  /** Keeps the newest report of a node for a deployment (one row each). */
  async saveReport(nodeId: string, report: DriftReport): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('drift_reports').where('deployment_name', '=', report.deployment).where('node_id', '=', nodeId).execute();
      await trx
        .insertInto('drift_reports')
        .values({
          deployment_name: report.deployment,
          node_id: nodeId,
          model: report.model,
          version: report.version,
          summary: JSON.stringify(report.summary),
          received_at: this.now(),
        })
        .execute();
    });
  }

  /** The newest report of each node that still exists (a deleted node's reports are not shown). */
  async reports(deployment?: string): Promise<DriftReportView[]> {
    let query = this.db
      .selectFrom('drift_reports')
      .innerJoin('nodes', 'nodes.id', 'drift_reports.node_id')
      .select([
        'drift_reports.deployment_name',
        'drift_reports.node_id',
        'drift_reports.model',
        'drift_reports.version',
        'drift_reports.summary',
        'drift_reports.received_at',
        'nodes.name as node_name',
      ])
      .orderBy('drift_reports.deployment_name')
      .orderBy('drift_reports.node_id');
    if (deployment) query = query.where('drift_reports.deployment_name', '=', deployment);
    return (await query.execute()).map((r) => ({
      deployment: r.deployment_name,
      nodeId: r.node_id,
      nodeName: r.node_name ?? null,
      model: r.model,
      version: Number(r.version),
      receivedAt: iso(Number(r.received_at)),
      summary: JSON.parse(r.summary) as DriftReportView['summary'],
    }));
  }

  async createEvent(input: {
    deployment: string;
    trigger: DriftTrigger;
    nodeId: string | null;
    model: string;
    version: number;
    findings: DriftFinding[];
    action: DriftAction;
    status: DriftEventStatus;
    message: string;
  }): Promise<DriftEventView> {
    const now = this.now();
    const id = randomBytes(8).toString('hex');
    await this.db
      .insertInto('drift_events')
      .values({
        id,
        deployment_name: input.deployment,
        trigger_kind: input.trigger,
        node_id: input.nodeId,
        model: input.model,
        version: input.version,
        findings: JSON.stringify(input.findings),
        action: input.action,
        status: input.status,
        run_id: null,
        challenger_version: null,
        evaluation: null,
        timeline: JSON.stringify([{ at: iso(now), status: input.status, message: input.message }]),
        created_at: now,
        updated_at: now,
      })
      .execute();
    return this.getEvent(id);
  }

  /** Moves an event on and appends a line to its timeline. */
  async updateEvent(
    id: string,
    change: { status?: DriftEventStatus; runId?: string; challengerVersion?: number; evaluation?: DriftEvaluation; message: string },
  ): Promise<DriftEventView> {
    const now = this.now();
    await this.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('drift_events').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      const timeline = JSON.parse(row.timeline) as DriftTimelineEntry[];
      const status = change.status ?? (row.status as DriftEventStatus);
      timeline.push({ at: iso(now), status, message: change.message });
      await trx
        .updateTable('drift_events')
        .set({
          status,
          timeline: JSON.stringify(timeline),
          updated_at: now,
          ...(change.runId !== undefined ? { run_id: change.runId } : {}),
          ...(change.challengerVersion !== undefined ? { challenger_version: change.challengerVersion } : {}),
          ...(change.evaluation !== undefined ? { evaluation: JSON.stringify(change.evaluation) } : {}),
        })
        .where('id', '=', id)
        .execute();
    });
    return this.getEvent(id);
  }

  async getEvent(id: string): Promise<DriftEventView> {
    const row = await this.db
      .selectFrom('drift_events')
      .leftJoin('nodes', 'nodes.id', 'drift_events.node_id')
      .selectAll('drift_events')
      .select('nodes.name as node_name')
      .where('drift_events.id', '=', id)
      .executeTakeFirst();
    if (!row) throw new FoglineError('FOGLINE_ERR_DRIFT_EVENT_NOT_FOUND', `No drift event ${id} (fogline drift events)`);
    return toEventView(row, row.node_name ?? null);
  }

  /** Newest first. */
  async listEvents(query: { deployment?: string; limit?: number; status?: DriftEventStatus } = {}): Promise<DriftEventView[]> {
    let q = this.db
      .selectFrom('drift_events')
      .leftJoin('nodes', 'nodes.id', 'drift_events.node_id')
      .selectAll('drift_events')
      .select('nodes.name as node_name')
      .orderBy('drift_events.created_at', 'desc')
      .orderBy('drift_events.id', 'desc')
      .limit(query.limit ?? 50);
    if (query.deployment) q = q.where('drift_events.deployment_name', '=', query.deployment);
    if (query.status) q = q.where('drift_events.status', '=', query.status);
    return (await q.execute()).map((row) => toEventView(row, row.node_name ?? null));
  }

  /** How many events each deployment has by status, trigger and action, and when the newest of them came (ms). */
  async eventCounts(): Promise<{ deployment: string; status: string; trigger: string; action: string; events: number; lastAt: number }[]> {
    const rows = await this.db
      .selectFrom('drift_events')
      .select(['deployment_name', 'status', 'trigger_kind', 'action'])
      .select((eb) => [eb.fn.countAll().as('count'), eb.fn.max('created_at').as('last')])
      .groupBy(['deployment_name', 'status', 'trigger_kind', 'action'])
      .execute();
    return rows.map((row) => ({
      deployment: row.deployment_name,
      status: row.status,
      trigger: row.trigger_kind,
      action: row.action,
      events: Number(row.count),
      lastAt: Number(row.last),
    }));
  }

  /** The newest event of a deployment, for the cooldown. */
  async lastEvent(deployment: string): Promise<DriftEventView | undefined> {
    return (await this.listEvents({ deployment, limit: 1 }))[0];
  }
}

function defaults(): PolicySettings {
  return { ...DRIFT_POLICY_DEFAULTS, tests: [...DRIFT_POLICY_DEFAULTS.tests], dataset: null };
}
