import type { ParamSpecs } from '../params.js';
import type { MlBackend } from '../tf/backend.js';
import type { LossName } from '../tf/train-loop.js';

export interface AnomalyParams {
  window: number;
  hidden: number[];
  loss: LossName;
  epochs: number;
  patience: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  trainFraction: number;
  validationFraction: number;
  threshold: number;
  smoothing: number;
  mergeGap: number;
  backend: MlBackend;
}

/** The anomaly pipeline's parameters; defaults measured on NAB realKnownCause (docs/ml.md), the same for every file. */
export const ANOMALY_PARAMS = {
  window: {
    type: 'integer',
    default: 48,
    min: 2,
    max: 5_000,
    description: 'History points the one-step forecaster sees (served history: window + smoothing − 1)',
  },
  hidden: { type: 'integer-list', default: [64], min: 1, max: 4096, maxItems: 4, description: 'Units of each hidden dense layer' },
  loss: { type: 'enum', default: 'mae', values: ['mae', 'mse', 'huber'], description: 'Training loss' },
  epochs: { type: 'integer', default: 30, min: 1, max: 1_000, description: 'Most epochs to train' },
  patience: { type: 'integer', default: 5, min: 1, max: 1_000, description: 'Epochs without a better validation loss before stopping' },
  batchSize: { type: 'integer', default: 64, min: 1, max: 65_536, description: 'Windows per gradient step' },
  learningRate: { type: 'number', default: 0.001, min: 1e-6, max: 0.5, description: 'Adam learning rate' },
  seed: { type: 'integer', default: 1, min: 0, max: 2 ** 31 - 1, description: 'Seeds initialisation and shuffling' },
  trainFraction: {
    type: 'number',
    default: 0.15,
    min: 0.01,
    max: 0.9,
    description: "Leading share of the series the forecaster learns from (NAB's probationary period is 15%); the rest is scored",
  },
  validationFraction: {
    type: 'number',
    default: 0.2,
    min: 0.01,
    max: 0.9,
    description: 'Share of the training part used for early stopping',
  },
  threshold: {
    type: 'number',
    default: 3,
    min: 0.1,
    max: 1_000,
    description: 'Score (robust z of the forecast residual) above which a point is anomalous',
  },
  smoothing: {
    type: 'integer',
    default: 6,
    min: 1,
    max: 1_000,
    description: 'Trailing points whose residual scores are averaged into each score (1: none)',
  },
  mergeGap: {
    type: 'integer',
    default: 48,
    min: 0,
    max: 100_000,
    description: 'Anomalous points at most this many points apart form one window',
  },
  backend: { type: 'enum', default: 'wasm', values: ['wasm', 'cpu'], description: 'TensorFlow.js backend' },
} as const satisfies ParamSpecs;
