import type { BundleManifest } from '../bundle/bundle-manifest.js';
import { type ManifestBody, packageModel, trainingSummary, trainingOutcome, type TrainingOutcome } from '../bundle/package-model.js';
import { readBundleManifest } from '../bundle/read-manifest.js';
import { buildInputs, encodeTargets, type ForecastRecipe, inputSize } from '../forecast/forecast-recipe.js';
import { gatherWindows } from '../forecast/forecast-windows.js';
import { ForecasterPredictor } from '../forecast/forecaster-predictor.js';
import { resolveParams } from '../params.js';
import type { RunOptions } from '../progress.js';
import { seriesFingerprint } from '../stats/fingerprint.js';
import { referenceStats } from '../stats/reference-stats.js';
import { useBackend } from '../tf/backend.js';
import { buildDenseNet } from '../tf/dense-net.js';
import { trainModel } from '../tf/train-loop.js';
import { TfjsNetwork } from '../tf/tfjs-network.js';
import { fitStandardScaler } from '../timeseries/scaler.js';
import type { RegularSeries } from '../timeseries/series-types.js';
import { splitWindows, type WindowSplit } from '../timeseries/windows.js';
import { ANOMALY_PARAMS, type AnomalyParams } from './anomaly-params.js';
import { anomalySignature } from './anomaly-predictor.js';
import { type AnomalyRecipe, robustScale } from './anomaly-recipe.js';

export type AnomalyManifest = BundleManifest<AnomalyRecipe, { validation: { residualMae: number; points: number } }>;

export interface AnomalyTrainingResult {
  bundle: Uint8Array;
  manifest: AnomalyManifest;
  training: TrainingOutcome;
  /** Where scoring starts (Unix seconds): everything before is the training part. */
  scoredFrom: number;
}

/** The training part is the series' first trainFraction; the "test" split of the window split is the scored rest. */
export function anomalySplit(series: RegularSeries, params: AnomalyParams): WindowSplit {
  const trainPoints = Math.round(series.values.length * params.trainFraction);
  return splitWindows(
    series.values.length,
    { window: params.window, horizon: 1, testPoints: series.values.length - trainPoints, validationFraction: params.validationFraction },
    series.filled,
  );
}

/**
 * Trains the forecast-residual anomaly detector: a small dense one-step forecaster learns the
 * series' normal behaviour on its first part; residuals on the held-out validation windows set
 * the robust scale that turns later residuals into scores. Score a series with detectAnomalies.
 */
export async function trainAnomalyDetector(
  series: RegularSeries,
  parameters: Partial<AnomalyParams> = {},
  options: RunOptions = {},
): Promise<AnomalyTrainingResult> {
  const params = resolveParams<AnomalyParams>(ANOMALY_PARAMS, parameters);
  options.onProgress?.({ phase: 'prepare', message: 'Windowing and scaling the training part' });
  const backend = await useBackend(params.backend);
  const split = anomalySplit(series, params);
  const forecast: ForecastRecipe = {
    window: params.window,
    horizon: 1,
    intervalSeconds: series.intervalSeconds,
    scaler: fitStandardScaler(series.values, 0, split.validationStart),
    target: 'level',
    calendar: false,
  };
  const train = gatherWindows(series, split.train, params.window, 1);
  const validation = gatherWindows(series, split.validation, params.window, 1);
  const matrix = (b: typeof train) => ({
    x: { data: buildInputs(forecast, b.histories, b.startTimes, b.n), rows: b.n, cols: inputSize(forecast) },
    y: { data: encodeTargets(forecast, b.histories, b.targets, b.n), rows: b.n, cols: 1 },
  });
  const model = buildDenseNet({ inputSize: inputSize(forecast), hidden: params.hidden, outputs: 1, seed: params.seed });
  try {
    const result = await trainModel(model, matrix(train), matrix(validation), {
      epochs: params.epochs,
      batchSize: params.batchSize,
      learningRate: params.learningRate,
      patience: params.patience,
      seed: params.seed,
      loss: params.loss,
      onProgress: (p) => options.onProgress?.({ phase: 'train', ...p }),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    options.onProgress?.({ phase: 'package', message: 'Measuring residuals and packing the bundle' });
    // Out-of-sample residuals (validation windows), so the scale reflects errors on unseen data.
    const expected = await new ForecasterPredictor(new TfjsNetwork(model), forecast).forecast(
      validation.histories,
      validation.startTimes,
      validation.n,
    );
    const signed = validation.targets.map((actual, i) => actual - expected[i]!);
    const recipe: AnomalyRecipe = {
      forecast,
      residual: robustScale(signed),
      threshold: params.threshold,
      smoothing: params.smoothing,
      mergeGap: params.mergeGap,
    };
    const body: ManifestBody<AnomalyRecipe, AnomalyManifest['metrics']> = {
      kind: 'anomaly-detector',
      signature: anomalySignature(recipe),
      preprocessing: recipe,
      metrics: {
        validation: { residualMae: signed.reduce((s, v) => s + Math.abs(v), 0) / Math.max(1, signed.length), points: signed.length },
      },
      training: trainingSummary(params, backend, result),
      data: seriesFingerprint(series),
      referenceStats: {
        inputs: {
          history: referenceStats(series.values.subarray(0, split.validationStart)),
          value: referenceStats(series.values.subarray(0, split.validationStart)),
        },
        outputs: { expected: referenceStats(expected) },
      },
    };
    const bundle = await packageModel(model, body);
    return {
      bundle,
      manifest: readBundleManifest<AnomalyManifest>(bundle),
      training: trainingOutcome(result, backend),
      scoredFrom: series.start + split.testStart * series.intervalSeconds,
    };
  } finally {
    model.dispose();
  }
}
