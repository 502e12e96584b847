import type { ForecastRecipe } from '../forecast/forecast-recipe.js';

/** The detector's preprocessing and decision rule, stored in its bundle. */
export interface AnomalyRecipe {
  /** The one-step forecaster's recipe (horizon 1, no calendar). */
  forecast: ForecastRecipe;
  /** Robust location and scale of training residuals (median, 1.4826 × MAD), in the data's units. */
  residual: { center: number; scale: number };
  threshold: number;
  smoothing: number;
  mergeGap: number;
}

/** Median and 1.4826 × MAD: a standard deviation that anomalies inside the training part barely move. */
export function robustScale(values: Float32Array | Float64Array): { center: number; scale: number } {
  const sorted = Float64Array.from(values).sort();
  const median = (a: Float64Array): number => (a.length % 2 ? a[(a.length - 1) / 2]! : (a[a.length / 2 - 1]! + a[a.length / 2]!) / 2);
  const center = median(sorted);
  const deviations = sorted.map((v) => Math.abs(v - center)).sort();
  const scale = 1.4826 * median(deviations);
  // A flat training part has MAD 0; fall back to the mean absolute deviation, then to 1, so scores stay finite.
  if (scale > 0) return { center, scale };
  const mean = deviations.reduce((s, v) => s + v, 0) / Math.max(1, deviations.length);
  return { center, scale: mean > 0 ? 1.2533 * mean : 1 };
}
