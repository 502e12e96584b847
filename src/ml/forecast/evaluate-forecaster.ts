import { decodeContainer, encodeContainer } from '../bundle/bundle-container.js';
import { loadBundle } from '../bundle/load-bundle.js';
import { MlInputError } from '../errors.js';
import type { RunOptions } from '../progress.js';
import { seriesFingerprint } from '../stats/fingerprint.js';
import type { RegularSeries } from '../timeseries/series-types.js';
import { compareWithBaselines, type ForecastComparison } from './forecast-evaluation.js';
import { gatherWindows } from './forecast-windows.js';
import type { ForecasterParams } from './forecaster-params.js';
import type { ForecasterPredictor } from './forecaster-predictor.js';
import { type ForecasterManifest, prepareForecast } from './train-forecaster.js';

export interface ForecasterEvaluation {
  /** The same bundle with `metrics.test` filled in. */
  bundle: Uint8Array;
  manifest: ForecasterManifest;
  test: ForecastComparison;
  /** Whether the series is the one the model was trained on (same fingerprint). */
  sameDataAsTraining: boolean;
  /** The test split's forecasts (windows × horizon), for plots and for checking a reload. */
  forecast: Float32Array;
}

/**
 * Scores a forecaster bundle on the test split of a series — the split its training parameters
 * define — beside the seasonal-naive baselines, through a fresh load of the bundle, exactly as a
 * serving node would run it. Returns the bundle with the test metrics recorded in its manifest.
 *
 * @example
 * const { test, bundle } = await evaluateForecaster(trained.bundle, series);
 * if (!test.beatsBestBaseline) throw new Error('gate failed');
 */
export async function evaluateForecaster(
  bytes: Uint8Array,
  series: RegularSeries,
  options: RunOptions = {},
): Promise<ForecasterEvaluation> {
  options.onProgress?.({ phase: 'evaluate', message: 'Forecasting the test split' });
  const predictor = await loadBundle(bytes);
  try {
    if (predictor.manifest.kind !== 'forecaster')
      throw new MlInputError('bad-input', `This bundle holds a model of kind ${predictor.manifest.kind}, not a forecaster.`);
    const params = predictor.manifest.training.params as unknown as ForecasterParams;
    const { split } = prepareForecast(series, params);
    const batch = gatherWindows(series, split.test, params.window, params.horizon);
    options.signal?.throwIfAborted();
    const forecast = await (predictor as unknown as ForecasterPredictor).forecast(batch.histories, batch.startTimes, batch.n);
    const test = compareWithBaselines(batch, forecast, params.window, params.horizon, series.intervalSeconds);
    const { manifest, files } = decodeContainer(bytes);
    const { files: _entries, ...rest } = manifest;
    const updated = encodeContainer(
      { ...rest, metrics: { ...(manifest.metrics as object), test } },
      [...files].map(([name, content]) => ({ name, bytes: content })),
    );
    return {
      bundle: updated,
      manifest: decodeContainer(updated).manifest as unknown as ForecasterManifest,
      test,
      sameDataAsTraining: seriesFingerprint(series).sha256 === predictor.manifest.data.sha256,
      forecast,
    };
  } finally {
    predictor.dispose();
  }
}
