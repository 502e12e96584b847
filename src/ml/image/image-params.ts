import type { ParamSpecs } from '../params.js';
import type { MlBackend } from '../tf/backend.js';

export interface ImageClassifierParams {
  architecture: 'dense' | 'conv';
  hidden: number[];
  filters: number;
  dropout: number;
  epochs: number;
  patience: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  testFraction: number;
  validationFraction: number;
  backend: MlBackend;
}

/** The image-classifier pipeline's parameters; the image size and class count come from the data set. */
export const IMAGE_CLASSIFIER_PARAMS = {
  architecture: {
    type: 'enum',
    default: 'dense',
    values: ['dense', 'conv'],
    description:
      "'dense': hidden layers on the pixels (trains on WASM); 'conv': two 3×3 convolutions first (trains on the CPU backend: WASM has no Conv2D gradient)",
  },
  hidden: { type: 'integer-list', default: [128], min: 1, max: 4096, maxItems: 4, description: 'Units of each hidden dense layer' },
  filters: { type: 'integer', default: 16, min: 1, max: 256, description: "Filters per convolution ('conv' only)" },
  dropout: { type: 'number', default: 0.2, min: 0, max: 0.9, description: 'Dropout after each hidden layer' },
  epochs: { type: 'integer', default: 60, min: 1, max: 1_000, description: 'Most epochs to train' },
  patience: { type: 'integer', default: 8, min: 1, max: 1_000, description: 'Epochs without a better validation loss before stopping' },
  batchSize: { type: 'integer', default: 32, min: 1, max: 65_536, description: 'Images per gradient step' },
  learningRate: { type: 'number', default: 0.002, min: 1e-6, max: 0.5, description: 'Adam learning rate' },
  seed: { type: 'integer', default: 1, min: 0, max: 2 ** 31 - 1, description: 'Seeds the split, initialisation and shuffling' },
  testFraction: { type: 'number', default: 0.2, min: 0.01, max: 0.9, description: 'Share of each class held out for testing' },
  validationFraction: {
    type: 'number',
    default: 0.1,
    min: 0.01,
    max: 0.9,
    description: 'Share of each class (after the test split) used for early stopping',
  },
  backend: { type: 'enum', default: 'wasm', values: ['wasm', 'cpu'], description: "TensorFlow.js backend ('conv' always trains on 'cpu')" },
} as const satisfies ParamSpecs;
