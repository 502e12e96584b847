import type { ParamSpecs } from '../params.js';
import type { MlBackend } from '../tf/backend.js';
import type { LossName } from '../tf/train-loop.js';
import type { ForecastTarget } from './forecast-recipe.js';

export interface ForecasterParams {
  window: number;
  horizon: number;
  target: ForecastTarget;
  calendar: boolean;
  hidden: number[];
  dropout: number;
  loss: LossName;
  epochs: number;
  patience: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  testPoints?: number;
  testFraction: number;
  validationFraction: number;
  backend: MlBackend;
  warmStartFrom?: number;
}

/** The forecast pipeline's parameters; the defaults are the measured choice documented in docs/ml.md. */
export const FORECASTER_PARAMS = {
  window: { type: 'integer', default: 168, min: 1, max: 10_000, description: 'History points the model sees (W); 168 = one week of hours' },
  horizon: { type: 'integer', default: 24, min: 1, max: 1_000, description: 'Points forecast at once (H); 24 = day-ahead at 1 h' },
  target: {
    type: 'enum',
    default: 'level',
    values: ['level', 'daily-residual', 'weekly-residual'],
    description: 'What the network predicts: the scaled level, or the correction to the same point a day / a week earlier',
  },
  calendar: { type: 'boolean', default: true, description: 'Add time-of-day, day-of-week and time-of-year features of the start time' },
  hidden: { type: 'integer-list', default: [64, 64], min: 1, max: 4096, maxItems: 6, description: 'Units of each hidden dense layer' },
  dropout: { type: 'number', default: 0, min: 0, max: 0.9, description: 'Dropout after each hidden layer' },
  loss: { type: 'enum', default: 'mae', values: ['mae', 'mse', 'huber'], description: 'Training loss on scaled targets' },
  epochs: { type: 'integer', default: 40, min: 1, max: 1_000, description: 'Most epochs to train (early stopping usually ends sooner)' },
  patience: { type: 'integer', default: 5, min: 1, max: 1_000, description: 'Epochs without a better validation loss before stopping' },
  batchSize: { type: 'integer', default: 64, min: 1, max: 65_536, description: 'Windows per gradient step' },
  learningRate: { type: 'number', default: 0.001, min: 1e-6, max: 0.5, description: 'Adam learning rate' },
  seed: {
    type: 'integer',
    default: 1,
    min: 0,
    max: 2 ** 31 - 1,
    description: 'Seeds initialisation and shuffling: same seed + data = same model',
  },
  testPoints: {
    type: 'integer',
    default: undefined,
    min: 1,
    max: 1e9,
    description: 'Points held out at the end for the test split (default: testFraction)',
  },
  testFraction: { type: 'number', default: 0.2, min: 0.01, max: 0.9, description: 'Share of the series held out at the end for testing' },
  validationFraction: { type: 'number', default: 0.1, min: 0.01, max: 0.9, description: 'Share of the pre-test part used for validation' },
  backend: { type: 'enum', default: 'wasm', values: ['wasm', 'cpu'], description: 'TensorFlow.js backend' },
  warmStartFrom: {
    type: 'integer',
    default: undefined,
    min: 1,
    max: 1e9,
    description:
      "Version of the run's model whose weights start the training (warm start; it must have the same window, horizon, target, calendar and hidden layers); default: random initialisation",
  },
} as const satisfies ParamSpecs;
