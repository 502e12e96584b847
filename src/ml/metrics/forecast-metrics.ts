import { MlInputError } from '../errors.js';

/** Point-forecast errors over every (window, step) pair. MAPE and sMAPE are in percent. */
export interface ForecastMetrics {
  mae: number;
  rmse: number;
  /** Mean |actual − forecast| / |actual| × 100, over points whose actual value is not 0. */
  mape: number;
  /** Mean 2|actual − forecast| / (|actual| + |forecast|) × 100; a point where both are 0 counts as 0. */
  smape: number;
  count: number;
}

/**
 * @example forecastMetrics([100, 200], [110, 190]) // { mae: 10, rmse: 10, mape: 7.5, smape: ≈7.65, count: 2 }
 */
export function forecastMetrics(actual: ArrayLike<number>, forecast: ArrayLike<number>): ForecastMetrics {
  if (actual.length !== forecast.length) {
    throw new MlInputError('bad-input', `actual has ${actual.length} values but forecast has ${forecast.length}.`);
  }
  if (actual.length === 0) throw new MlInputError('empty', 'Metrics need at least one forecast.');
  let abs = 0;
  let sq = 0;
  let ape = 0;
  let apeCount = 0;
  let sape = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const f = forecast[i]!;
    const e = Math.abs(a - f);
    abs += e;
    sq += e * e;
    if (a !== 0) {
      ape += e / Math.abs(a);
      apeCount += 1;
    }
    const denominator = Math.abs(a) + Math.abs(f);
    if (denominator > 0) sape += (2 * e) / denominator;
  }
  const n = actual.length;
  return { mae: abs / n, rmse: Math.sqrt(sq / n), mape: apeCount > 0 ? (100 * ape) / apeCount : 0, smape: (100 * sape) / n, count: n };
}
