import { MlInputError } from '../errors.js';

/** A client's contribution to a round: the change it made to the global weights and how many examples it trained on. */
export interface ClientUpdate {
  delta: Float32Array;
  examples: number;
}

export type UpdateRejection =
  | { problem: 'wrong-length'; message: string }
  | { problem: 'non-finite'; message: string }
  | { problem: 'norm-too-large'; message: string; norm: number };

/** Euclidean norm, summed in float64. */
export function l2Norm(values: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i]! * values[i]!;
  return Math.sqrt(sum);
}

/**
 * Why a client's update must not be aggregated, or null when it may be: the wrong number of
 * values, any NaN or ±Infinity, or a norm above `maxNorm` (a diverged or malicious client).
 */
export function checkUpdate(delta: Float32Array, expectedLength: number, maxNorm = Number.POSITIVE_INFINITY): UpdateRejection | null {
  if (delta.length !== expectedLength)
    return { problem: 'wrong-length', message: `The update has ${delta.length} values; the model has ${expectedLength}.` };
  for (let i = 0; i < delta.length; i++) {
    if (!Number.isFinite(delta[i]!)) return { problem: 'non-finite', message: `The update holds ${delta[i]} at index ${i}.` };
  }
  const norm = l2Norm(delta);
  if (norm > maxNorm)
    return { problem: 'norm-too-large', message: `The update's norm ${norm.toPrecision(4)} is above the bound ${maxNorm}.`, norm };
  return null;
}

/** Scales `delta` down (a copy) so its norm is at most `maxNorm`; unchanged when it already is. */
export function clipToNorm(delta: Float32Array, maxNorm: number): Float32Array {
  const norm = l2Norm(delta);
  if (!(norm > maxNorm) || norm === 0) return Float32Array.from(delta);
  const scale = maxNorm / norm;
  return Float32Array.from(delta, (v) => v * scale);
}

/** Weights proportional to example counts (the FedAvg weighting); they sum to 1. */
export function exampleWeights(updates: readonly Pick<ClientUpdate, 'examples'>[]): number[] {
  const total = updates.reduce((sum, u) => sum + u.examples, 0);
  if (!(total > 0)) throw new MlInputError('bad-input', 'Aggregation needs at least one update with examples.');
  return updates.map((u) => u.examples / total);
}

/** The example-weighted mean of the deltas (accumulated in float64). */
export function weightedMean(updates: readonly ClientUpdate[]): Float32Array {
  if (updates.length === 0) throw new MlInputError('bad-input', 'Aggregation needs at least one update.');
  const n = updates[0]!.delta.length;
  if (updates.some((u) => u.delta.length !== n)) throw new MlInputError('bad-input', 'Updates of different lengths cannot be averaged.');
  const weights = exampleWeights(updates);
  const sum = new Float64Array(n);
  updates.forEach((u, k) => {
    const w = weights[k]!;
    for (let i = 0; i < n; i++) sum[i]! += w * u.delta[i]!;
  });
  return Float32Array.from(sum);
}

export type ServerStrategy = 'fedavg' | 'fedprox' | 'fedadam';
export const SERVER_STRATEGIES: readonly ServerStrategy[] = ['fedavg', 'fedprox', 'fedadam'];

export interface ServerOptimizerSettings {
  /** Server learning rate: 1 for FedAvg/FedProx (the mean delta is applied as is); FedAdam's η (default 0.03, measured best of 0.01–0.05 in bench/fl). */
  serverLearningRate?: number;
  beta1?: number;
  beta2?: number;
  /** FedAdam's τ: keeps the step bounded where the second moment is tiny. */
  tau?: number;
}

/** FedAdam's moments, kept between rounds (and persisted with the job). */
export interface ServerOptimizerState {
  m: Float32Array;
  v: Float32Array;
  step: number;
}

export interface AggregationResult {
  weights: Float32Array;
  state: ServerOptimizerState | null;
  /** The mean client delta (before the server optimiser). */
  meanDelta: Float32Array;
}

/**
 * One server step: the example-weighted mean delta, applied to the global weights directly
 * (FedAvg; FedProx differs only on the clients) or through Adam on the server (FedAdam,
 * Reddi et al. 2021, "Adaptive Federated Optimization").
 */
export function aggregate(
  strategy: ServerStrategy,
  global: Float32Array,
  updates: readonly ClientUpdate[],
  state: ServerOptimizerState | null,
  settings: ServerOptimizerSettings = {},
): AggregationResult {
  const meanDelta = weightedMean(updates);
  if (meanDelta.length !== global.length)
    throw new MlInputError('bad-input', `Updates have ${meanDelta.length} values; the model has ${global.length}.`);
  if (strategy !== 'fedadam') {
    const lr = settings.serverLearningRate ?? 1;
    return { weights: Float32Array.from(global, (w, i) => w + lr * meanDelta[i]!), state: null, meanDelta };
  }
  const lr = settings.serverLearningRate ?? 0.03;
  const b1 = settings.beta1 ?? 0.9;
  const b2 = settings.beta2 ?? 0.99;
  const tau = settings.tau ?? 1e-3;
  const m = state ? Float32Array.from(state.m) : new Float32Array(global.length);
  const v = state ? Float32Array.from(state.v) : new Float32Array(global.length);
  const weights = new Float32Array(global.length);
  for (let i = 0; i < global.length; i++) {
    const d = meanDelta[i]!;
    m[i] = b1 * m[i]! + (1 - b1) * d;
    v[i] = b2 * v[i]! + (1 - b2) * d * d;
    weights[i] = global[i]! + (lr * m[i]!) / (Math.sqrt(v[i]!) + tau);
  }
  return { weights, state: { m, v, step: (state?.step ?? 0) + 1 }, meanDelta };
}
