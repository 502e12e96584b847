import { Registry } from 'prom-client';
import type { DriftRepository } from '../../drift/drift-repository.js';
import { HttpMetrics } from '../../metrics/http-metrics.js';
import { ScrapeQueue } from '../../metrics/metrics-endpoint.js';
import { collectProcessMetrics } from '../../metrics/process-metrics.js';
import { DriftMetrics } from './drift-metrics.js';
import { FleetMetrics, type FleetSources } from './fleet-metrics.js';
import { PipelineMetrics } from './pipeline-metrics.js';
import { ReplicaMetrics } from './replica-metrics.js';

export interface ControlPlaneMetricsOptions {
  /** Process metrics (CPU, memory, event loop, GC); on by default. */
  processMetrics?: boolean;
}

/**
 * The control plane's metrics, in a registry of its own (tests run several control planes in one
 * process): HTTP, the fleet and drift read from their domains' repositories at scrape time,
 * pipeline runs as the run ledger tells them, cloud replicas, the process.
 *
 * @example
 * const metrics = new ControlPlaneMetrics({ nodes, deployments, runs, drift });
 * const ledger = new RunLedger({ ..., observer: metrics.pipelines });
 * metrics.http.install(app);                      // before the routes
 * await metrics.render();                         // Prometheus text
 */
export class ControlPlaneMetrics {
  readonly registry = new Registry();
  readonly http: HttpMetrics;
  readonly pipelines: PipelineMetrics;
  readonly cloudReplicas: ReplicaMetrics;
  private readonly fleet: FleetMetrics;
  private readonly drift: DriftMetrics;
  private readonly scrapes: ScrapeQueue;

  constructor(sources: FleetSources & { drift: DriftRepository }, options: ControlPlaneMetricsOptions = {}) {
    if (options.processMetrics !== false) collectProcessMetrics(this.registry);
    this.http = new HttpMetrics(this.registry);
    this.pipelines = new PipelineMetrics(this.registry);
    this.cloudReplicas = new ReplicaMetrics(this.registry);
    this.fleet = new FleetMetrics(this.registry, sources);
    this.drift = new DriftMetrics(this.registry, sources.drift);
    this.scrapes = new ScrapeQueue(this.registry, async () => {
      await Promise.all([this.fleet.refresh(), this.drift.refresh()]);
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Prometheus text, with the fleet read from the database now. */
  render(): Promise<string> {
    return this.scrapes.render();
  }
}
