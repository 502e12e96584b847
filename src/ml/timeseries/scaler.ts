import { MlInputError } from '../errors.js';

/** z = (x - mean) / std; kept in the bundle so serving scales exactly as training did. */
export interface StandardScaler {
  mean: number;
  std: number;
}

/**
 * Fits a standard scaler on `values[from, to)` only: callers pass the training range so that
 * validation and test values never shape the scaling (no leakage).
 */
export function fitStandardScaler(values: ArrayLike<number>, from = 0, to = values.length): StandardScaler {
  const n = to - from;
  if (n < 2) throw new MlInputError('too-short', `A scaler needs at least 2 training values (got ${n}).`);
  let mean = 0;
  for (let i = from; i < to; i++) mean += values[i]!;
  mean /= n;
  let sq = 0;
  for (let i = from; i < to; i++) sq += (values[i]! - mean) ** 2;
  // A constant series has std 0; scaling by 1 keeps it finite and still centred.
  const std = Math.sqrt(sq / n) || 1;
  return { mean, std };
}
