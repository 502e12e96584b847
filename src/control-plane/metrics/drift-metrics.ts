import type { Kysely } from 'kysely';
import { Gauge, type Registry } from 'prom-client';
import type { DriftSummary } from '../../contracts/drift.js';
import type { Database } from '../../store/schema.js';

/**
 * Drift as the control plane's database knows it, read at scrape time: events per deployment by
 * status, trigger and action (counts of stored events: they only grow, as a counter would, unless a
 * deployment is deleted), the time of each deployment's newest event, and each node's newest
 * forecast error beside its validation and seasonal-naive MAPE. Series are bounded by
 * deployments × nodes.
 */
export class DriftMetrics {
  private readonly events: Gauge<'deployment' | 'status' | 'trigger' | 'action'>;
  private readonly lastEvent: Gauge<'deployment'>;
  private readonly errorMape: Gauge<'deployment' | 'node' | 'version' | 'reference'>;

  constructor(
    registry: Registry,
    private readonly db: Kysely<Database>,
  ) {
    const registers = [registry];
    this.events = new Gauge({
      name: 'fogline_drift_events',
      help: 'Drift events recorded per deployment, by status (alerted, retraining, promoted, kept, failed), trigger (drift, manual) and action',
      labelNames: ['deployment', 'status', 'trigger', 'action'],
      registers,
    });
    this.lastEvent = new Gauge({
      name: 'fogline_drift_last_event_timestamp_seconds',
      help: "Unix time of the deployment's newest drift event",
      labelNames: ['deployment'],
      registers,
    });
    this.errorMape = new Gauge({
      name: 'fogline_drift_forecast_error_mape',
      help: "Forecast MAPE (%) in the node's newest drift report: reference=edge (rolling, over the error window), validation (the bundle's), seasonal_naive (same time yesterday, same hours)",
      labelNames: ['deployment', 'node', 'version', 'reference'],
      registers,
    });
  }

  /** Reads the database and replaces every series above with what it says now. */
  async refresh(): Promise<void> {
    const [events, reports] = await Promise.all([
      this.db
        .selectFrom('drift_events')
        .select(['deployment_name', 'status', 'trigger_kind', 'action'])
        .select((eb) => [eb.fn.countAll().as('count'), eb.fn.max('created_at').as('last')])
        .groupBy(['deployment_name', 'status', 'trigger_kind', 'action'])
        .execute(),
      this.db
        .selectFrom('drift_reports')
        // Nodes that still exist: a deleted node's last report is no gauge.
        .innerJoin('nodes', 'nodes.id', 'drift_reports.node_id')
        .select(['drift_reports.deployment_name', 'drift_reports.node_id', 'drift_reports.version', 'drift_reports.summary'])
        .select('nodes.name as node_name')
        .execute(),
    ]);
    // Everything below is synchronous: a scrape never sees half of the update.
    this.events.reset();
    this.lastEvent.reset();
    const last = new Map<string, number>();
    for (const row of events) {
      const labels = { deployment: row.deployment_name, status: row.status, trigger: row.trigger_kind, action: row.action };
      this.events.set(labels, Number(row.count));
      const at = Number(row.last);
      if (Number.isFinite(at) && at > (last.get(row.deployment_name) ?? 0)) last.set(row.deployment_name, at);
    }
    for (const [deployment, at] of last) this.lastEvent.set({ deployment }, at / 1000);
    this.errorMape.reset();
    for (const row of reports) {
      let summary: DriftSummary;
      try {
        summary = JSON.parse(row.summary) as DriftSummary;
      } catch {
        continue;
      }
      const error = summary.error;
      if (!error || error.count === 0) continue;
      const base = { deployment: row.deployment_name, node: row.node_name ?? row.node_id, version: String(row.version) };
      this.errorMape.set({ ...base, reference: 'edge' }, error.mape);
      if (error.validationMape !== null) this.errorMape.set({ ...base, reference: 'validation' }, error.validationMape);
      if (error.baselineMape !== undefined && error.baselineMape !== null) {
        this.errorMape.set({ ...base, reference: 'seasonal_naive' }, error.baselineMape);
      }
    }
  }
}
