import type { BundleManifest } from '../bundle/bundle-manifest.js';
import type { ReferenceStats } from '../stats/reference-stats.js';
import { type BinnedDistribution, kolmogorovSmirnov, normalisedWasserstein, psi } from './distances.js';
import { ForecastErrorTracker } from './forecast-error.js';
import { SlidingHistogram } from './sliding-histogram.js';

/** One tensor as a request or response carries it (flat row-major data). */
export interface ObservedTensor {
  name: string;
  shape: readonly number[];
  data: ArrayLike<unknown>;
}

/** A feature's window beside its training reference. Statistics are null when the bundle has no reference for it. */
export interface FeatureDrift {
  name: string;
  source: 'input' | 'output';
  count: number;
  mean: number;
  std: number;
  min: number;
  max: number;
  referenceCount: number;
  psi: number | null;
  wasserstein: number | null;
  ksStatistic: number | null;
  ksPValue: number | null;
  /** Binned counts in the window: underflow, one per reference bin, overflow (empty without a reference). */
  counts: number[];
}

export interface ErrorDrift {
  windowHours: number;
  count: number;
  mape: number;
  /** The bundle's validation MAPE (null for bundles without one). */
  validationMape: number | null;
  /** Seasonal-naive ("same time yesterday") MAPE on the same scored hours; null before a day of actuals. */
  baselineMape?: number | null;
  pending: number;
  unmatched: number;
}

/** What a node reports about one deployed version: aggregates only, never raw values. */
export interface DriftSummary {
  kind: string;
  /** False for bundles without reference statistics (older or federated bundles): nothing to compare with. */
  hasReference: boolean;
  windowHours: number;
  /** Data time covered by the window (ISO), null before the first value. */
  from: string | null;
  to: string | null;
  rows: number;
  features: FeatureDrift[];
  error: ErrorDrift | null;
}

/** At most this many values of one row of a wide tensor go into its histogram (an evenly spaced sample). */
export const VALUES_PER_ROW = 64;

interface Feature {
  name: string;
  source: 'input' | 'output';
  histogram: SlidingHistogram;
  reference: { distribution: BinnedDistribution; stats: ReferenceStats } | null;
}

/** A usable reference: counted values and ascending edges (federated bundles carry empty ones). */
export function binnedReference(stats: ReferenceStats | undefined): { distribution: BinnedDistribution; stats: ReferenceStats } | null {
  if (!stats || !(stats.count > 0)) return null;
  const { edges, fractions } = stats.histogram ?? { edges: [], fractions: [] };
  if (edges.length < 2 || fractions.length !== edges.length - 1) return null;
  for (let i = 1; i < edges.length; i++) if (!(edges[i]! >= edges[i - 1]!)) return null;
  if (!(edges.at(-1)! > edges[0]!)) return null;
  return { distribution: { edges, masses: [0, ...fractions, 0] }, stats };
}

interface ForecastShape {
  intervalSeconds: number;
  horizon: number;
  validationMape: number | null;
}

function forecastShape(manifest: BundleManifest): ForecastShape | null {
  const prep = manifest.preprocessing as {
    intervalSeconds?: number;
    horizon?: number;
    forecast?: { intervalSeconds?: number; horizon?: number };
  };
  const recipe = manifest.kind === 'anomaly-detector' ? prep?.forecast : prep;
  if (!recipe || !(Number(recipe.intervalSeconds) > 0)) return null;
  const metrics = manifest.metrics as { validation?: { model?: { mape?: number } } };
  const mape = metrics?.validation?.model?.mape;
  return {
    intervalSeconds: Number(recipe.intervalSeconds),
    horizon: Number(recipe.horizon) || 1,
    validationMape: typeof mape === 'number' && Number.isFinite(mape) ? mape : null,
  };
}

const numeric = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : Number.NaN);

/**
 * The drift statistics of one deployed version, built from its bundle manifest: a sliding
 * histogram per input and output that has reference statistics (bins = the reference's bins),
 * and, for forecasters, the forecast error once actuals arrive. Bounded memory whatever the
 * traffic (see SlidingHistogram and ForecastErrorTracker).
 *
 * Which values count: `history` (a window of past values) adds its newest value per row — each
 * observation once when a client slides the window hour by hour, as in training's reference;
 * other tensors add up to VALUES_PER_ROW evenly spaced values per row; `start_time` (a clock,
 * which always "drifts") is not a feature but gives each row its data time.
 */
export class DriftCollector {
  readonly kind: string;
  readonly hasReference: boolean;
  private readonly features: Feature[] = [];
  private readonly forecast: ForecastShape | null;
  readonly errors: ForecastErrorTracker | null;
  rows = 0;

  constructor(manifest: BundleManifest, options: { slots?: number } = {}) {
    this.kind = manifest.kind;
    const slots = options.slots ?? 720;
    const refs = manifest.referenceStats ?? { inputs: {}, outputs: {} };
    const add = (source: 'input' | 'output', specs: Array<{ name: string; datatype: string }>, stats: Record<string, ReferenceStats>) => {
      for (const spec of specs) {
        if (spec.datatype !== 'FP32' || spec.name === 'start_time') continue;
        const reference = binnedReference(stats?.[spec.name]);
        this.features.push({
          name: spec.name,
          source,
          reference,
          histogram: new SlidingHistogram(reference ? reference.distribution.edges : [0, 1], { slots }),
        });
      }
    };
    add('input', manifest.signature?.inputs ?? [], refs.inputs ?? {});
    add('output', manifest.signature?.outputs ?? [], refs.outputs ?? {});
    this.hasReference = this.features.some((f) => f.reference !== null);
    this.forecast = manifest.kind === 'forecaster' || manifest.kind === 'anomaly-detector' ? forecastShape(manifest) : null;
    this.errors =
      manifest.kind === 'forecaster' && this.forecast
        ? new ForecastErrorTracker({ intervalSeconds: this.forecast.intervalSeconds, horizon: this.forecast.horizon, slots })
        : null;
  }

  /** The series interval of a forecaster or anomaly detector (from its recipe), seconds; null for other models. */
  get intervalSeconds(): number | null {
    return this.forecast?.intervalSeconds ?? null;
  }

  /** Records one answered request. Cheap: a few values per row. */
  observe(inputs: readonly ObservedTensor[], outputs: readonly ObservedTensor[], nowMs = Date.now()): void {
    const batch = Number(inputs[0]?.shape[0] ?? 0);
    if (!(batch > 0)) return;
    this.rows += batch;
    const start = inputs.find((t) => t.name === 'start_time');
    const interval = this.forecast?.intervalSeconds ?? 0;
    // The newest history point is one interval before the first forecast: that is the row's data time.
    const timeOf = (row: number): number => {
      const s = start ? numeric(start.data[row]) : Number.NaN;
      return Number.isFinite(s) ? (s - interval) * 1000 : nowMs;
    };
    for (const feature of this.features) {
      const tensor = (feature.source === 'input' ? inputs : outputs).find((t) => t.name === feature.name);
      if (!tensor || tensor.data.length === 0) continue;
      const width = Math.floor(tensor.data.length / batch);
      if (width < 1) continue;
      for (let row = 0; row < batch; row++) {
        const at = timeOf(row);
        const base = row * width;
        if (feature.name === 'history') {
          feature.histogram.add(numeric(tensor.data[base + width - 1]), at);
          continue;
        }
        const step = Math.max(1, Math.floor(width / VALUES_PER_ROW));
        for (let i = 0; i < width; i += step) feature.histogram.add(numeric(tensor.data[base + i]), at);
      }
    }
    if (this.errors && start) {
      const forecast = outputs.find((t) => t.name === 'forecast');
      if (forecast) {
        const width = Math.floor(forecast.data.length / batch);
        for (let row = 0; row < batch; row++) {
          const values: number[] = [];
          for (let i = 0; i < width; i++) values.push(numeric(forecast.data[row * width + i]));
          this.errors.recordForecast(numeric(start.data[row]), values);
        }
      }
    }
  }

  /** Scores actual values: `values[i]` is the observation at `startTime + i × interval` (Unix seconds). Returns the forecasts scored. */
  recordActuals(startTime: number, values: readonly number[], intervalSeconds?: number): number {
    if (!this.errors) return 0;
    const step = intervalSeconds ?? this.errors.intervalSeconds;
    let scored = 0;
    for (let i = 0; i < values.length; i++) scored += this.errors.recordActual(startTime + i * step, values[i]!);
    return scored;
  }

  /** The window's aggregates beside the reference (hours of data time). */
  summary(windowHours = 168, errorWindowHours = 24): DriftSummary {
    let from: number | null = null;
    let to: number | null = null;
    const features = this.features.map((feature): FeatureDrift => {
      const w = feature.histogram.window(windowHours);
      if (w.from !== null && (from === null || w.from < from)) from = w.from;
      if (w.to !== null && (to === null || w.to > to)) to = w.to;
      const ref = feature.reference;
      const current: BinnedDistribution = {
        edges: feature.histogram.edges,
        masses: w.counts,
        underflowMean: w.underflowMean,
        overflowMean: w.overflowMean,
      };
      const usable = ref !== null && w.total > 0;
      const ks = usable ? kolmogorovSmirnov(ref.distribution, current, ref.stats.count, w.total) : null;
      return {
        name: feature.name,
        source: feature.source,
        count: w.total,
        mean: w.mean,
        std: w.std,
        min: w.min,
        max: w.max,
        referenceCount: ref?.stats.count ?? 0,
        psi: usable ? psi(ref.distribution, current) : null,
        wasserstein: usable ? normalisedWasserstein(ref.distribution, current, ref.stats.std) : null,
        ksStatistic: ks?.statistic ?? null,
        ksPValue: ks?.pValue ?? null,
        counts: ref ? w.counts : [],
      };
    });
    let error: ErrorDrift | null = null;
    if (this.errors) {
      const e = this.errors.window(errorWindowHours);
      error = {
        windowHours: errorWindowHours,
        count: e.count,
        mape: e.mape,
        baselineMape: e.baselineMape,
        validationMape: this.forecast?.validationMape ?? null,
        pending: this.errors.pendingCount(),
        unmatched: this.errors.unmatched,
      };
    }
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    return {
      kind: this.kind,
      hasReference: this.hasReference,
      windowHours,
      from: iso(from),
      to: iso(to),
      rows: this.rows,
      features,
      error,
    };
  }
}
