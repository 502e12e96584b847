import { seasonalSource } from '../baselines/seasonal-naive.js';
import { requireParameter } from '../errors.js';
import { CALENDAR_FEATURES, writeCalendarFeatures } from '../timeseries/calendar.js';
import type { StandardScaler } from '../timeseries/scaler.js';

/**
 * What the network predicts. 'level': the scaled values. 'weekly-residual' / 'daily-residual':
 * the scaled difference from the value one season earlier (seasonal naive), so the network only
 * learns the correction and starts out as good as the baseline.
 */
export type ForecastTarget = 'level' | 'weekly-residual' | 'daily-residual';

/** Everything needed to turn raw inputs into network inputs and network outputs back into values; stored in the bundle. */
export interface ForecastRecipe {
  window: number;
  horizon: number;
  intervalSeconds: number;
  scaler: StandardScaler;
  target: ForecastTarget;
  /** Calendar features of each forecast's start time (sin/cos of day, week, year). */
  calendar: boolean;
}

/** Points per season for a residual target (e.g. 168 for weekly at 1 h); 0 for 'level'. */
export function seasonPoints(target: ForecastTarget, intervalSeconds: number): number {
  if (target === 'level') return 0;
  return Math.round((target === 'weekly-residual' ? 7 * 86_400 : 86_400) / intervalSeconds);
}

export function checkRecipe(recipe: ForecastRecipe): void {
  const season = seasonPoints(recipe.target, recipe.intervalSeconds);
  requireParameter(
    season === 0 || (season >= 1 && season <= recipe.window),
    'target',
    `a target whose season (${season} points) fits in the window (${recipe.window})`,
    recipe.target,
  );
}

export function inputSize(recipe: ForecastRecipe): number {
  return recipe.window + (recipe.calendar ? CALENDAR_FEATURES : 0);
}

/**
 * Network inputs for n forecasts: scaled history (n × window, raw units, most recent last) followed
 * by the calendar features of each start time (Unix seconds of the first forecast point).
 */
export function buildInputs(recipe: ForecastRecipe, histories: Float32Array, startTimes: ArrayLike<number>, n: number): Float32Array {
  const { window, scaler } = recipe;
  const width = inputSize(recipe);
  const out = new Float32Array(n * width);
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < window; i++) out[r * width + i] = (histories[r * window + i]! - scaler.mean) / scaler.std;
    if (recipe.calendar) writeCalendarFeatures(startTimes[r]!, out, r * width + window);
  }
  return out;
}

/** The per-step baseline a residual target is measured against (0 for 'level' targets, which are centred by the scaler instead). */
function base(recipe: ForecastRecipe, histories: Float32Array, r: number, h: number, season: number): number {
  return season === 0 ? recipe.scaler.mean : histories[r * recipe.window + recipe.window + seasonalSource(h, season)]!;
}

/** Training targets (n × horizon, raw units) → what the network learns. */
export function encodeTargets(recipe: ForecastRecipe, histories: Float32Array, targets: Float32Array, n: number): Float32Array {
  const { horizon, scaler } = recipe;
  const season = seasonPoints(recipe.target, recipe.intervalSeconds);
  const out = new Float32Array(n * horizon);
  for (let r = 0; r < n; r++) {
    for (let h = 0; h < horizon; h++)
      out[r * horizon + h] = (targets[r * horizon + h]! - base(recipe, histories, r, h, season)) / scaler.std;
  }
  return out;
}

/** Network outputs (n × horizon) → forecasts in the data's units. */
export function decodeOutputs(recipe: ForecastRecipe, histories: Float32Array, outputs: Float32Array, n: number): Float32Array {
  const { horizon, scaler } = recipe;
  const season = seasonPoints(recipe.target, recipe.intervalSeconds);
  const out = new Float32Array(n * horizon);
  for (let r = 0; r < n; r++) {
    for (let h = 0; h < horizon; h++) out[r * horizon + h] = base(recipe, histories, r, h, season) + outputs[r * horizon + h]! * scaler.std;
  }
  return out;
}
