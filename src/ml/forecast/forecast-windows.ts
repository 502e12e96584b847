import type { RegularSeries } from '../timeseries/series-types.js';

/** Windows cut out of a series: histories (n × window) and targets (n × horizon) in raw units, and each window's start time. */
export interface WindowBatch {
  n: number;
  histories: Float32Array;
  targets: Float32Array;
  /** Unix seconds of each window's first target point — what a client sends as `start_time`. */
  startTimes: Float64Array;
}

/**
 * Copies the windows at `origins` out of the series. Values go through float32 here, exactly as
 * they arrive at a served model, so in-process evaluation and a loaded bundle see the same inputs.
 */
export function gatherWindows(series: RegularSeries, origins: Int32Array, window: number, horizon: number): WindowBatch {
  const n = origins.length;
  const histories = new Float32Array(n * window);
  const targets = new Float32Array(n * horizon);
  const startTimes = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    const o = origins[r]!;
    histories.set(series.values.subarray(o - window, o), r * window);
    targets.set(series.values.subarray(o, o + horizon), r * horizon);
    startTimes[r] = series.start + o * series.intervalSeconds;
  }
  return { n, histories, targets, startTimes };
}
