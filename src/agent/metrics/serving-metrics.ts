import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { BATCH_SIZES, INFERENCE_SECONDS, MODEL_LOAD_SECONDS } from '../../metrics/buckets.js';
import type { ServingObserver } from '../runtime/serving-observer.js';

type VersionLabels = 'deployment' | 'model' | 'version';

/** The per-version children one inference touches, looked up once per version, not per request. */
interface VersionSeries {
  success: Counter.Internal;
  failure: Counter.Internal;
  queue: Histogram.Internal<VersionLabels>;
  compute: Histogram.Internal<VersionLabels>;
  batch: Histogram.Internal<VersionLabels>;
}

export interface ServingMetricsOptions {
  /**
   * How long the series of a version that stopped serving stay exported (so that the last
   * increments are scraped) before they are dropped: the label set stays bounded by the versions
   * served recently, however many swaps the agent sees.
   */
  retireAfterMs?: number;
}

/**
 * The agent's serving metrics, in the spirit of Triton's: per deployment, model and version,
 * inferences that succeeded or failed, time waiting in the queue and computing, batch sizes;
 * per deployment and model, loads and swaps with their durations and the version serving now.
 * No label depends on a request or its inputs.
 */
export class ServingMetrics implements ServingObserver {
  private readonly requests: Counter<VersionLabels | 'outcome'>;
  private readonly queueSeconds: Histogram<VersionLabels>;
  private readonly computeSeconds: Histogram<VersionLabels>;
  private readonly batchSize: Histogram<VersionLabels>;
  private readonly loads: Counter<'deployment' | 'model' | 'outcome'>;
  private readonly loadSeconds: Histogram<'deployment' | 'model'>;
  private readonly swaps: Counter<'deployment' | 'model'>;
  private readonly swapSeconds: Histogram<'deployment' | 'model'>;
  private readonly servingVersion: Gauge<'deployment' | 'model'>;
  private readonly abandonedRequests: Counter<'deployment'>;
  private readonly series = new Map<string, VersionSeries>();
  /** deployment + model -> the version the gauge shows. */
  private readonly serving = new Map<string, number>();
  private readonly retiring = new Map<string, NodeJS.Timeout>();
  private readonly retireAfterMs: number;

  constructor(registry: Registry, options: ServingMetricsOptions = {}) {
    this.retireAfterMs = options.retireAfterMs ?? 10 * 60_000;
    const registers = [registry];
    const versionLabels: VersionLabels[] = ['deployment', 'model', 'version'];
    this.requests = new Counter({
      name: 'fogline_inference_requests_total',
      help: 'Inference requests answered by a deployed model version, by outcome (success or failure)',
      labelNames: [...versionLabels, 'outcome'],
      registers,
    });
    this.abandonedRequests = new Counter({
      name: 'fogline_inference_abandoned_total',
      help: 'Inference requests dropped before they reached the model because the client had closed the connection (client timeouts under overload)',
      labelNames: ['deployment'],
      registers,
    });
    this.queueSeconds = new Histogram({
      name: 'fogline_inference_queue_duration_seconds',
      help: 'Time an inference request waited before its model started computing',
      labelNames: versionLabels,
      buckets: INFERENCE_SECONDS,
      registers,
    });
    this.computeSeconds = new Histogram({
      name: 'fogline_inference_compute_duration_seconds',
      help: 'Time the model spent computing one inference request (or the batch it was part of)',
      labelNames: versionLabels,
      buckets: INFERENCE_SECONDS,
      registers,
    });
    this.batchSize = new Histogram({
      name: 'fogline_inference_batch_size',
      help: 'Requests the model computed together in one batch',
      labelNames: versionLabels,
      buckets: BATCH_SIZES,
      registers,
    });
    this.loads = new Counter({
      name: 'fogline_model_loads_total',
      help: 'Model versions loaded and warmed up, by outcome (success or failure)',
      labelNames: ['deployment', 'model', 'outcome'],
      registers,
    });
    this.loadSeconds = new Histogram({
      name: 'fogline_model_load_duration_seconds',
      help: 'Time to load and warm up a model version',
      labelNames: ['deployment', 'model'],
      buckets: MODEL_LOAD_SECONDS,
      registers,
    });
    this.swaps = new Counter({
      name: 'fogline_model_swaps_total',
      help: 'Hot swaps from one serving version to another',
      labelNames: ['deployment', 'model'],
      registers,
    });
    this.swapSeconds = new Histogram({
      name: 'fogline_model_swap_duration_seconds',
      help: 'Time a hot swap took to switch to the new version',
      labelNames: ['deployment', 'model'],
      buckets: MODEL_LOAD_SECONDS,
      registers,
    });
    this.servingVersion = new Gauge({
      name: 'fogline_model_serving_version',
      help: 'The model version a deployment serves now (absent when it serves none)',
      labelNames: ['deployment', 'model'],
      registers,
    });
  }

  inferred(event: Parameters<ServingObserver['inferred']>[0]): void {
    const series = this.versionSeries(event.deployment, event.model, event.version);
    (event.ok ? series.success : series.failure).inc();
    series.queue.observe(event.queueSeconds);
    series.compute.observe(event.computeSeconds);
    series.batch.observe(event.batchSize);
  }

  abandoned(event: Parameters<ServingObserver['abandoned']>[0]): void {
    this.abandonedRequests.inc({ deployment: event.deployment });
  }

  loaded(event: Parameters<ServingObserver['loaded']>[0]): void {
    const labels = { deployment: event.deployment, model: event.model };
    this.loads.inc({ ...labels, outcome: event.ok ? 'success' : 'failure' });
    if (!event.ok) return;
    this.loadSeconds.observe(labels, event.seconds);
    this.setServing(event.deployment, event.model, event.version);
    this.unretire(event.deployment, event.model, event.version);
  }

  swapped(event: Parameters<ServingObserver['swapped']>[0]): void {
    const labels = { deployment: event.deployment, model: event.model };
    this.swaps.inc(labels);
    this.swapSeconds.observe(labels, event.seconds);
    this.setServing(event.deployment, event.model, event.toVersion);
  }

  unloaded(event: Parameters<ServingObserver['unloaded']>[0]): void {
    const key = seriesKey(event.deployment, event.model, event.version);
    // A swap unloads the old version: the gauge already shows the new one.
    const servingKey = `${event.deployment}\u0000${event.model}`;
    if (this.serving.get(servingKey) === event.version) {
      this.serving.delete(servingKey);
      this.servingVersion.remove({ deployment: event.deployment, model: event.model });
    }
    if (this.retiring.has(key)) return;
    const timer = setTimeout(() => {
      this.retiring.delete(key);
      this.drop(event.deployment, event.model, event.version);
    }, this.retireAfterMs);
    timer.unref();
    this.retiring.set(key, timer);
  }

  /** Stops the timers that drop retired versions' series. */
  close(): void {
    for (const timer of this.retiring.values()) clearTimeout(timer);
    this.retiring.clear();
  }

  private setServing(deployment: string, model: string, version: number): void {
    this.serving.set(`${deployment}\u0000${model}`, version);
    this.servingVersion.set({ deployment, model }, version);
  }

  private versionSeries(deployment: string, model: string, version: number): VersionSeries {
    const key = seriesKey(deployment, model, version);
    let series = this.series.get(key);
    if (!series) {
      const labels = { deployment, model, version: String(version) };
      series = {
        success: this.requests.labels({ ...labels, outcome: 'success' }),
        failure: this.requests.labels({ ...labels, outcome: 'failure' }),
        queue: this.queueSeconds.labels(labels),
        compute: this.computeSeconds.labels(labels),
        batch: this.batchSize.labels(labels),
      };
      this.series.set(key, series);
    }
    return series;
  }

  private unretire(deployment: string, model: string, version: number): void {
    const key = seriesKey(deployment, model, version);
    clearTimeout(this.retiring.get(key));
    this.retiring.delete(key);
  }

  private drop(deployment: string, model: string, version: number): void {
    const labels = { deployment, model, version: String(version) };
    this.requests.remove({ ...labels, outcome: 'success' });
    this.requests.remove({ ...labels, outcome: 'failure' });
    this.queueSeconds.remove(labels);
    this.computeSeconds.remove(labels);
    this.batchSize.remove(labels);
    this.series.delete(seriesKey(deployment, model, version));
  }
}

function seriesKey(deployment: string, model: string, version: number): string {
  return `${deployment}\u0000${model}\u0000${version}`;
}
