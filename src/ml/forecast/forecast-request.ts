import { MlInputError } from '../errors.js';
import { formatTimestamp } from '../timeseries/timestamp.js';
import type { RegularSeries } from '../timeseries/series-types.js';

/** One input tensor of a forecaster request, as the Open Inference Protocol sends it (plain arrays, so it serialises as JSON). */
export interface ForecastInput {
  name: 'history' | 'start_time';
  shape: number[];
  datatype: 'FP32' | 'INT64';
  data: number[];
}

/** What a client sends a forecaster for one origin of a series, and what followed it. */
export interface ForecastRequestAt {
  /** `history` (FP32 [1, window], the series' units, most recent last) and `start_time` (INT64 [1]). */
  inputs: [ForecastInput, ForecastInput];
  /** Unix seconds of the first hour to forecast (the origin's time). */
  startTime: number;
  /** The up to `horizon` values the series has from the origin on (fewer, or none, at its end). */
  actual: number[];
  /** Per history point, as ingestion marked it: 0 measured, 1 interpolated in a short gap, 2 in a long gap. */
  filled: Uint8Array;
}

/**
 * The forecaster request for the `window` points before `origin` (a series index: the first point
 * to forecast), its start time and the actual values after it. `origin` may be the series' length
 * (a forecast past its end). Throws a `too-short` MlInputError when the history does not fit.
 *
 * @example
 * const { inputs, actual } = forecastRequestAt(series, series.values.length - 24, { window: 168, horizon: 24 });
 * await fetch(`${agent}/v2/models/energy/infer`, { method: 'POST', body: JSON.stringify({ inputs }) });
 */
export function forecastRequestAt(series: RegularSeries, origin: number, shape: { window: number; horizon: number }): ForecastRequestAt {
  const { window, horizon } = shape;
  const length = series.values.length;
  const startTime = series.start + origin * series.intervalSeconds;
  if (!Number.isInteger(origin) || origin < window || origin > length) {
    throw new MlInputError(
      'too-short',
      origin < window
        ? `A forecast from ${formatTimestamp(startTime)} needs the ${window} points before it; the series starts at ${formatTimestamp(series.start)}, ${Math.max(0, origin)} point(s) earlier.`
        : `A forecast from ${formatTimestamp(startTime)} is past the series' end (${formatTimestamp(series.start + (length - 1) * series.intervalSeconds)}).`,
      { points: length, needed: window, origin },
    );
  }
  return {
    inputs: [
      { name: 'history', shape: [1, window], datatype: 'FP32', data: Array.from(series.values.subarray(origin - window, origin)) },
      { name: 'start_time', shape: [1], datatype: 'INT64', data: [startTime] },
    ],
    startTime,
    actual: Array.from(series.values.subarray(origin, Math.min(length, origin + horizon))),
    filled: series.filled.subarray(origin - window, origin),
  };
}
