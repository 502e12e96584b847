import { MlInputError, requireParameter } from '../errors.js';

export interface SplitOptions {
  /** Points of history each window sees (W). */
  window: number;
  /** Points each window forecasts (H). */
  horizon: number;
  /** Points at the end held out for the test split; default: `testFraction` of the series. */
  testPoints?: number;
  /** Default 0.2 when testPoints is not given. */
  testFraction?: number;
  /** Share of the points before the test split used for validation (early stopping); default 0.1. */
  validationFraction?: number;
  /** Step between consecutive window origins; default 1. */
  stride?: number;
}

/**
 * A chronological split of a series into windows. A window with origin `o` reads history
 * `[o - window, o)` and forecasts targets `[o, o + horizon)`. Each split owns a range of target
 * points; a window belongs to a split only when all its targets do (windows that straddle a
 * boundary are dropped), so no target is ever seen by two splits. Histories may reach back into
 * an earlier split, as they would in production.
 */
export interface WindowSplit {
  window: number;
  horizon: number;
  /** Series index where validation targets start; the training range (and the scaler's data) is `[0, validationStart)`. */
  validationStart: number;
  /** Series index where test targets start. */
  testStart: number;
  train: Int32Array;
  validation: Int32Array;
  test: Int32Array;
}

function origins(from: number, to: number, stride: number, window: number, horizon: number, excluded: Uint8Array | undefined): Int32Array {
  const out: number[] = [];
  // An origin is usable when its history and its targets lie inside [from - window, to).
  for (let o = Math.max(from, window); o + horizon <= to; o += stride) {
    if (excluded && hasExcluded(excluded, o - window, o + horizon)) continue;
    out.push(o);
  }
  return Int32Array.from(out);
}

function hasExcluded(excluded: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (excluded[i] === 2) return true;
  return false;
}

/**
 * Splits a series of `length` points chronologically into train / validation / test windows.
 * `filled` (from ingestion) drops every window that touches a point invented inside a long gap.
 */
export function splitWindows(length: number, options: SplitOptions, filled?: Uint8Array): WindowSplit {
  const { window, horizon } = options;
  const stride = options.stride ?? 1;
  requireParameter(Number.isInteger(window) && window >= 1, 'window', 'a positive integer', window);
  requireParameter(Number.isInteger(horizon) && horizon >= 1, 'horizon', 'a positive integer', horizon);
  requireParameter(Number.isInteger(stride) && stride >= 1, 'stride', 'a positive integer', stride);
  const testFraction = options.testFraction ?? 0.2;
  const validationFraction = options.validationFraction ?? 0.1;
  requireParameter(testFraction > 0 && testFraction < 1, 'testFraction', 'between 0 and 1', testFraction);
  requireParameter(validationFraction > 0 && validationFraction < 1, 'validationFraction', 'between 0 and 1', validationFraction);
  const testPoints = options.testPoints ?? Math.round(length * testFraction);
  requireParameter(Number.isInteger(testPoints) && testPoints >= horizon, 'testPoints', `an integer ≥ horizon (${horizon})`, testPoints);

  const testStart = length - testPoints;
  const validationStart = testStart - Math.max(horizon, Math.round(testStart * validationFraction));
  // The training split needs enough points for a history and a target, and then some windows.
  const minimum = window + horizon + Math.max(horizon, 1);
  if (validationStart < minimum) {
    throw new MlInputError(
      'too-short',
      `The series has ${length} points; with window ${window}, horizon ${horizon} and ${testPoints} test points it needs at least ` +
        `${minimum + (length - validationStart)} points. Use a longer series or a smaller window.`,
      { points: length, needed: minimum + (length - validationStart) },
    );
  }
  const split: WindowSplit = {
    window,
    horizon,
    validationStart,
    testStart,
    train: origins(0, validationStart, stride, window, horizon, filled),
    validation: origins(validationStart, testStart, stride, window, horizon, filled),
    test: origins(testStart, length, stride, window, horizon, filled),
  };
  for (const name of ['train', 'validation', 'test'] as const) {
    if (split[name].length === 0) {
      throw new MlInputError(
        'too-short',
        `The ${name} split has no complete window (window ${window}, horizon ${horizon}); use a longer series.`,
        {
          points: length,
        },
      );
    }
  }
  return split;
}
