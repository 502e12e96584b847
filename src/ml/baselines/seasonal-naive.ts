/** Index (relative to a window's origin) of the seasonal-naive source for step h: one or more whole seasons back. */
export function seasonalSource(h: number, season: number): number {
  return h - season * Math.ceil((h + 1) / season);
}

/**
 * Seasonal-naive forecasts: each step repeats the value one season earlier (`season` = 24 points
 * for "same hour yesterday", 168 for "same hour last week" at 1 h), going back whole seasons when
 * the horizon is longer than one. Needs window ≥ season.
 *
 * @example seasonalNaive(histories, n, 168, 24, 24) // same hour yesterday
 */
export function seasonalNaive(histories: Float32Array, n: number, window: number, horizon: number, season: number): Float32Array {
  const out = new Float32Array(n * horizon);
  for (let r = 0; r < n; r++) {
    for (let h = 0; h < horizon; h++) out[r * horizon + h] = histories[r * window + window + seasonalSource(h, season)]!;
  }
  return out;
}
