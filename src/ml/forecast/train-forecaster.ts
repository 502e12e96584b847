import type { BundleManifest } from '../bundle/bundle-manifest.js';
import { type ManifestBody, packageModel, trainingSummary, trainingOutcome, type TrainingOutcome } from '../bundle/package-model.js';
import { readBundleManifest } from '../bundle/read-manifest.js';
import { resolveParams } from '../params.js';
import type { RunOptions } from '../progress.js';
import { seriesFingerprint } from '../stats/fingerprint.js';
import { referenceStats } from '../stats/reference-stats.js';
import { useBackend } from '../tf/backend.js';
import { buildDenseNet } from '../tf/dense-net.js';
import { type Matrix, trainModel } from '../tf/train-loop.js';
import { loadModelFiles } from '../tf/model-artifacts.js';
import { TfjsNetwork } from '../tf/tfjs-network.js';
import { decodeContainer } from '../bundle/bundle-container.js';
import { MODEL_FILE, WEIGHTS_FILE } from '../tf/model-file-names.js';
import { MlInputError } from '../errors.js';
import type { tf } from '../tf/backend.js';
import { fitStandardScaler } from '../timeseries/scaler.js';
import type { RegularSeries } from '../timeseries/series-types.js';
import { splitWindows, type WindowSplit } from '../timeseries/windows.js';
import { compareWithBaselines, type ForecastComparison } from './forecast-evaluation.js';
import { buildInputs, checkRecipe, encodeTargets, type ForecastRecipe, inputSize } from './forecast-recipe.js';
import { gatherWindows, type WindowBatch } from './forecast-windows.js';
import { FORECASTER_PARAMS, type ForecasterParams } from './forecaster-params.js';
import { ForecasterPredictor, forecasterSignature } from './forecaster-predictor.js';

export interface ForecasterMetrics {
  validation: ForecastComparison;
  /** Added by evaluateForecaster. */
  test?: ForecastComparison;
}

export type ForecasterManifest = BundleManifest<ForecastRecipe, ForecasterMetrics>;

export interface ForecasterTrainingResult {
  bundle: Uint8Array;
  manifest: ForecasterManifest;
  training: TrainingOutcome;
  /** Window counts per split, and where validation and test targets start (Unix seconds). */
  split: { train: number; validation: number; test: number; validationStart: number; testStart: number };
}

/** The chronological split and the preprocessing a forecaster with these parameters uses on this series. */
export function prepareForecast(series: RegularSeries, params: ForecasterParams): { split: WindowSplit; recipe: ForecastRecipe } {
  const split = splitWindows(
    series.values.length,
    {
      window: params.window,
      horizon: params.horizon,
      testFraction: params.testFraction,
      validationFraction: params.validationFraction,
      ...(params.testPoints !== undefined ? { testPoints: params.testPoints } : {}),
    },
    series.filled,
  );
  // Fitted on the training range only: validation and test values never shape the scaling.
  const scaler = fitStandardScaler(series.values, 0, split.validationStart);
  const recipe: ForecastRecipe = {
    window: params.window,
    horizon: params.horizon,
    intervalSeconds: series.intervalSeconds,
    scaler,
    target: params.target,
    calendar: params.calendar,
  };
  checkRecipe(recipe);
  return { split, recipe };
}

function matrices(recipe: ForecastRecipe, batch: WindowBatch): { x: Matrix; y: Matrix } {
  return {
    x: { data: buildInputs(recipe, batch.histories, batch.startTimes, batch.n), rows: batch.n, cols: inputSize(recipe) },
    y: { data: encodeTargets(recipe, batch.histories, batch.targets, batch.n), rows: batch.n, cols: recipe.horizon },
  };
}

/**
 * Trains the load forecaster (a dense net on scaled history + calendar features → horizon
 * outputs) on the training split, stops early on the validation split and packs a bundle whose
 * manifest holds the validation metrics beside the seasonal-naive baselines. The test split is
 * untouched: score it with evaluateForecaster.
 *
 * @example
 * const { bundle, manifest } = await trainForecaster(series, { epochs: 20 }, { onProgress: (p) => bar.update(p) });
 */
export interface ForecasterTrainOptions extends RunOptions {
  /**
   * A forecaster bundle (with `warmStartFrom`: the version it is) whose weights are the initial
   * weights instead of a random initialisation; its architecture must be the same.
   */
  warmStart?: Uint8Array;
}

/** Copies a bundle's weights into `model`; refuses a bundle of another architecture. */
async function warmStartWeights(model: tf.LayersModel, bundle: Uint8Array, params: ForecasterParams): Promise<void> {
  const manifest = readBundleManifest(bundle);
  const from = manifest.training.params as Partial<ForecasterParams>;
  const architecture = (p: Partial<ForecasterParams>) =>
    JSON.stringify([p.window, p.horizon, p.target ?? 'level', p.calendar ?? true, p.hidden]);
  if (manifest.kind !== 'forecaster' || architecture(from) !== architecture(params)) {
    throw new MlInputError(
      'bad-input',
      `warm start: the model to start from (${manifest.kind}, window ${String(from.window)}, horizon ${String(from.horizon)}, hidden ${JSON.stringify(from.hidden)}) does not have this run's architecture (window ${params.window}, horizon ${params.horizon}, hidden ${JSON.stringify(params.hidden)})`,
    );
  }
  const { files } = decodeContainer(bundle);
  const modelJson = files.get(MODEL_FILE);
  const weights = files.get(WEIGHTS_FILE);
  if (!modelJson || !weights) throw new MlInputError('bundle-corrupt', `The bundle lacks ${MODEL_FILE} or ${WEIGHTS_FILE}.`);
  const source = await loadModelFiles({ modelJson, weights });
  try {
    const values = source.getWeights();
    const target = model.getWeights();
    if (values.length !== target.length || values.some((w, i) => w.shape.join('x') !== target[i]!.shape.join('x'))) {
      throw new MlInputError('bad-input', "warm start: the weights' shapes differ from this run's network");
    }
    model.setWeights(values);
  } finally {
    source.dispose();
  }
}

export async function trainForecaster(
  series: RegularSeries,
  parameters: Partial<ForecasterParams> = {},
  options: ForecasterTrainOptions = {},
): Promise<ForecasterTrainingResult> {
  const params = resolveParams<ForecasterParams>(FORECASTER_PARAMS, parameters);
  options.onProgress?.({ phase: 'prepare', message: 'Windowing and scaling the series' });
  const backend = await useBackend(params.backend);
  const { split, recipe } = prepareForecast(series, params);
  const trainBatch = gatherWindows(series, split.train, params.window, params.horizon);
  const validationBatch = gatherWindows(series, split.validation, params.window, params.horizon);
  options.signal?.throwIfAborted();

  const model = buildDenseNet({
    inputSize: inputSize(recipe),
    hidden: params.hidden,
    outputs: params.horizon,
    dropout: params.dropout,
    seed: params.seed,
  });
  try {
    if (options.warmStart) {
      options.onProgress?.({ phase: 'prepare', message: `Warm start: initial weights from version ${params.warmStartFrom ?? '?'}` });
      await warmStartWeights(model, options.warmStart, params);
    }
    const result = await trainModel(model, matrices(recipe, trainBatch), matrices(recipe, validationBatch), {
      epochs: params.epochs,
      batchSize: params.batchSize,
      learningRate: params.learningRate,
      patience: params.patience,
      seed: params.seed,
      loss: params.loss,
      onProgress: (p) => options.onProgress?.({ phase: 'train', ...p }),
      ...(options.signal ? { signal: options.signal } : {}),
    });

    options.onProgress?.({ phase: 'package', message: 'Scoring the validation split and packing the bundle' });
    const predictor = new ForecasterPredictor(new TfjsNetwork(model), recipe);
    const validationForecast = await predictor.forecast(validationBatch.histories, validationBatch.startTimes, validationBatch.n);
    const body: ManifestBody<ForecastRecipe, ForecasterMetrics> = {
      kind: 'forecaster',
      signature: forecasterSignature(params.window, params.horizon),
      preprocessing: recipe,
      metrics: {
        validation: compareWithBaselines(validationBatch, validationForecast, params.window, params.horizon, series.intervalSeconds),
      },
      training: trainingSummary(params, backend, result),
      data: seriesFingerprint(series),
      referenceStats: {
        inputs: { history: referenceStats(series.values.subarray(0, split.validationStart)) },
        outputs: { forecast: referenceStats(validationForecast) },
      },
    };
    const bundle = await packageModel(model, body);
    return {
      bundle,
      manifest: readBundleManifest<ForecasterManifest>(bundle),
      training: trainingOutcome(result, backend),
      split: {
        train: split.train.length,
        validation: split.validation.length,
        test: split.test.length,
        validationStart: series.start + split.validationStart * series.intervalSeconds,
        testStart: series.start + split.testStart * series.intervalSeconds,
      },
    };
  } finally {
    model.dispose();
  }
}
