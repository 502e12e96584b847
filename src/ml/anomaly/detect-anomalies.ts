import { loadBundle } from '../bundle/load-bundle.js';
import { MlInputError } from '../errors.js';
import { gatherWindows } from '../forecast/forecast-windows.js';
import { type AnomalyWindowMetrics, anomalyWindowMetrics, type TimeWindow } from '../metrics/anomaly-metrics.js';
import type { RunOptions } from '../progress.js';
import type { RegularSeries } from '../timeseries/series-types.js';
import type { AnomalyParams } from './anomaly-params.js';
import type { AnomalyPredictor } from './anomaly-predictor.js';
import { type DetectedWindow, scoresToWindows } from './detect-windows.js';
import { anomalySplit } from './train-anomaly-detector.js';

export interface AnomalyDetection {
  /** One score per series point (smoothed robust z of the forecast residual); NaN where a point cannot be scored. */
  scores: Float32Array;
  /** First scored point (Unix seconds); earlier points are the training part and never flagged. */
  scoredFrom: number;
  windows: DetectedWindow[];
  /** With labels: window precision/recall against the labelled windows that reach into the scored part. */
  evaluation?: AnomalyWindowMetrics & { labelledInScope: TimeWindow[] };
}

/** Trailing mean over `k` points, skipping NaN; k = 1 returns the scores as they are. */
function smooth(scores: Float32Array, k: number): Float32Array {
  if (k <= 1) return scores;
  const out = new Float32Array(scores.length).fill(Number.NaN);
  for (let i = 0; i < scores.length; i++) {
    let sum = 0;
    let n = 0;
    for (let j = Math.max(0, i - k + 1); j <= i; j++) {
      if (!Number.isNaN(scores[j]!)) {
        sum += scores[j]!;
        n += 1;
      }
    }
    if (n > 0 && !Number.isNaN(scores[i]!)) out[i] = sum / n;
  }
  return out;
}

/**
 * Scores every point of a series with an anomaly-detector bundle and groups anomalous points into
 * windows (scored part only). Given NAB-style labelled windows, also returns precision and recall.
 *
 * @example
 * const { windows, evaluation } = await detectAnomalies(trained.bundle, series, { labels: parseNabWindows(json, 'nyc_taxi.csv') });
 */
export async function detectAnomalies(
  bytes: Uint8Array,
  series: RegularSeries,
  options: RunOptions & { labels?: TimeWindow[] } = {},
): Promise<AnomalyDetection> {
  const predictor = await loadBundle(bytes);
  try {
    if (predictor.manifest.kind !== 'anomaly-detector')
      throw new MlInputError('bad-input', `This bundle holds a model of kind ${predictor.manifest.kind}, not an anomaly detector.`);
    options.onProgress?.({ phase: 'evaluate', message: 'Scoring the series' });
    const detector = predictor as unknown as AnomalyPredictor;
    const params = predictor.manifest.training.params as unknown as AnomalyParams;
    const { threshold, smoothing, mergeGap } = detector.recipe;
    const window = detector.recipe.forecast.window;
    const n = series.values.length;
    // Every point with a full history is scored; windows touching long invented gaps stay NaN.
    const origins = Int32Array.from({ length: Math.max(0, n - window) }, (_, i) => i + window).filter(
      (o) => !series.filled.subarray(o - window, o + 1).includes(2),
    );
    const batch = gatherWindows(series, origins, window, 1);
    const { score } = await detector.score(batch.histories, batch.targets, batch.n);
    const raw = new Float32Array(n).fill(Number.NaN);
    origins.forEach((o, i) => {
      raw[o] = score[i]!;
    });
    const scores = smooth(raw, smoothing);
    const scoredStart = anomalySplit(series, params).testStart;
    const scoredFrom = series.start + scoredStart * series.intervalSeconds;
    const windows = scoresToWindows(scores.subarray(scoredStart), scoredFrom, series.intervalSeconds, { threshold, mergeGap });
    const result: AnomalyDetection = { scores, scoredFrom, windows };
    if (options.labels) {
      const labelledInScope = options.labels.filter((l) => l.end >= scoredFrom);
      result.evaluation = { ...anomalyWindowMetrics(windows, labelledInScope), labelledInScope };
    }
    return result;
  } finally {
    predictor.dispose();
  }
}
