import { Gauge, type Registry } from 'prom-client';
import type { DriftRepository } from '../../drift/drift-repository.js';

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
    private readonly drift: DriftRepository,
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

  /** Reads the drift repository and replaces every series above with what it says now. */
  async refresh(): Promise<void> {
    // Reports of nodes that still exist: a deleted node's last report is no gauge.
    const [events, reports] = await Promise.all([this.drift.eventCounts(), this.drift.reports()]);
    // Everything below is synchronous: a scrape never sees half of the update.
    this.events.reset();
    this.lastEvent.reset();
    const last = new Map<string, number>();
    for (const row of events) {
      this.events.set({ deployment: row.deployment, status: row.status, trigger: row.trigger, action: row.action }, row.events);
      if (Number.isFinite(row.lastAt) && row.lastAt > (last.get(row.deployment) ?? 0)) last.set(row.deployment, row.lastAt);
    }
    for (const [deployment, at] of last) this.lastEvent.set({ deployment }, at / 1000);
    this.errorMape.reset();
    for (const report of reports) {
      const error = report.summary.error;
      if (!error || error.count === 0) continue;
      const base = { deployment: report.deployment, node: report.nodeName ?? report.nodeId, version: String(report.version) };
      this.errorMape.set({ ...base, reference: 'edge' }, error.mape);
      if (error.validationMape !== null) this.errorMape.set({ ...base, reference: 'validation' }, error.validationMape);
      if (error.baselineMape !== undefined && error.baselineMape !== null) {
        this.errorMape.set({ ...base, reference: 'seasonal_naive' }, error.baselineMape);
      }
    }
  }
}
