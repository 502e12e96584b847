import { seasonalNaive } from '../baselines/seasonal-naive.js';
import { type ForecastMetrics, forecastMetrics } from '../metrics/forecast-metrics.js';
import type { WindowBatch } from './forecast-windows.js';

/** Same point yesterday, same point last week, or (when the window is shorter than a day) the last value. */
export type ForecastBaseline = 'seasonal-naive-day' | 'seasonal-naive-week' | 'persistence';

/** A model's errors beside the seasonal-naive baselines, on the same windows. */
export interface ForecastComparison {
  windows: number;
  model: ForecastMetrics;
  baselines: Partial<Record<ForecastBaseline, ForecastMetrics>>;
  /** The baseline with the lowest MAPE. */
  bestBaseline: ForecastBaseline;
  /** model MAPE / best baseline MAPE: 0.7 means 30% lower. */
  mapeRatio: number;
  beatsBestBaseline: boolean;
}

const SEASONS: Record<Exclude<ForecastBaseline, 'persistence'>, number> = {
  'seasonal-naive-day': 86_400,
  'seasonal-naive-week': 7 * 86_400,
};

/** Scores forecasts beside the seasonal-naive baselines whose season fits in the window. */
export function compareWithBaselines(
  batch: WindowBatch,
  forecast: Float32Array,
  window: number,
  horizon: number,
  intervalSeconds: number,
): ForecastComparison {
  const model = forecastMetrics(batch.targets, forecast);
  const baselines: Partial<Record<ForecastBaseline, ForecastMetrics>> = {};
  for (const [name, seconds] of Object.entries(SEASONS) as Array<[Exclude<ForecastBaseline, 'persistence'>, number]>) {
    const season = Math.max(1, Math.round(seconds / intervalSeconds));
    if (season <= window)
      baselines[name] = forecastMetrics(batch.targets, seasonalNaive(batch.histories, batch.n, window, horizon, season));
  }
  const ranked = (Object.entries(baselines) as Array<[ForecastBaseline, ForecastMetrics]>).sort((a, b) => a[1].mape - b[1].mape);
  // A window shorter than a day leaves only persistence: the last value, i.e. a one-point season.
  if (ranked.length === 0) {
    baselines.persistence = forecastMetrics(batch.targets, seasonalNaive(batch.histories, batch.n, window, horizon, 1));
    ranked.push(['persistence', baselines.persistence]);
  }
  const [bestBaseline, best] = ranked[0]!;
  const mapeRatio = best.mape > 0 ? model.mape / best.mape : model.mape === 0 ? 1 : Number.POSITIVE_INFINITY;
  return {
    windows: batch.n,
    model,
    baselines,
    bestBaseline,
    mapeRatio: Number.isFinite(mapeRatio) ? mapeRatio : 1e9,
    beatsBestBaseline: model.mape < best.mape,
  };
}
