import { requireParameter } from '../errors.js';
import { tf } from './backend.js';
import { seededRandom, shuffleInPlace } from './seeded-random.js';

/** Row-major rows × cols matrix of float32, the form every model's inputs and targets take here. */
export interface Matrix {
  data: Float32Array;
  rows: number;
  cols: number;
}

export type LossName = 'mse' | 'mae' | 'huber' | 'softmax-cross-entropy';

/** Reported after every epoch; plain data, so it can be posted from a worker thread as is. */
export interface TrainingProgress {
  epoch: number;
  epochs: number;
  loss: number;
  valLoss: number;
  bestEpoch: number;
  elapsedMs: number;
  /** Time left if every remaining epoch runs (early stopping can end sooner). */
  etaMs: number;
}

export interface EpochLog {
  epoch: number;
  loss: number;
  valLoss: number;
  elapsedMs: number;
}

export interface TrainLoopOptions {
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Stop after this many epochs without a better validation loss, and keep the best epoch's weights. */
  patience: number;
  seed: number;
  loss: LossName;
  onProgress?: (progress: TrainingProgress) => void;
  signal?: AbortSignal;
}

export interface TrainLoopResult {
  history: EpochLog[];
  bestEpoch: number;
  stoppedEarly: boolean;
  trainingMs: number;
}

/** The loss `name` of `predictions` against `labels` (shared by central and federated training). */
export function lossOf(name: LossName, labels: tf.Tensor, predictions: tf.Tensor): tf.Scalar {
  switch (name) {
    case 'mse':
      return tf.losses.meanSquaredError(labels, predictions);
    case 'mae':
      return tf.losses.absoluteDifference(labels, predictions);
    case 'huber':
      return tf.losses.huberLoss(labels, predictions);
    case 'softmax-cross-entropy':
      return tf.losses.softmaxCrossEntropy(labels, predictions);
  }
}

function rowsTensor(m: Matrix, rows: ArrayLike<number>, buffer: Float32Array): tf.Tensor2D {
  for (let r = 0; r < rows.length; r++) buffer.set(m.data.subarray(rows[r]! * m.cols, (rows[r]! + 1) * m.cols), r * m.cols);
  return tf.tensor2d(buffer.subarray(0, rows.length * m.cols), [rows.length, m.cols]);
}

/** Mean loss over a whole matrix, in chunks so a large validation set never becomes one huge tensor. */
export function evaluateLoss(model: tf.LayersModel, x: Matrix, y: Matrix, loss: LossName, chunk = 2048): number {
  let total = 0;
  for (let from = 0; from < x.rows; from += chunk) {
    const n = Math.min(chunk, x.rows - from);
    total +=
      tf
        .tidy(() => {
          const xs = tf.tensor2d(x.data.subarray(from * x.cols, (from + n) * x.cols), [n, x.cols]);
          const ys = tf.tensor2d(y.data.subarray(from * y.cols, (from + n) * y.cols), [n, y.cols]);
          return lossOf(loss, ys, model.predict(xs) as tf.Tensor);
        })
        .dataSync()[0]! * n;
  }
  return total / x.rows;
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Mini-batch Adam with seeded shuffling, early stopping on validation loss (best weights kept),
 * progress after every epoch, and cancellation between batches. It yields to the event loop
 * every ~50 ms so that an abort message can reach a worker thread while it trains.
 */
export async function trainModel(
  model: tf.LayersModel,
  train: { x: Matrix; y: Matrix },
  validation: { x: Matrix; y: Matrix },
  options: TrainLoopOptions,
): Promise<TrainLoopResult> {
  const { epochs, batchSize, learningRate, patience } = options;
  requireParameter(Number.isInteger(epochs) && epochs >= 1 && epochs <= 10_000, 'epochs', 'an integer from 1 to 10000', epochs);
  requireParameter(
    Number.isInteger(batchSize) && batchSize >= 1 && batchSize <= 65_536,
    'batchSize',
    'an integer from 1 to 65536',
    batchSize,
  );
  requireParameter(learningRate > 0 && learningRate < 1, 'learningRate', 'between 0 and 1', learningRate);
  requireParameter(Number.isInteger(patience) && patience >= 1, 'patience', 'a positive integer', patience);

  const started = performance.now();
  const random = seededRandom(options.seed);
  const optimizer = tf.train.adam(learningRate);
  const order = Int32Array.from({ length: train.x.rows }, (_, i) => i);
  const xBuffer = new Float32Array(batchSize * train.x.cols);
  const yBuffer = new Float32Array(batchSize * train.y.cols);
  const history: EpochLog[] = [];
  let best = { epoch: 0, valLoss: Number.POSITIVE_INFINITY, weights: [] as tf.Tensor[] };
  let lastYield = performance.now();
  try {
    for (let epoch = 1; epoch <= epochs; epoch++) {
      shuffleInPlace(order, random);
      let lossSum = 0;
      for (let from = 0; from < order.length; from += batchSize) {
        const rows = order.subarray(from, Math.min(from + batchSize, order.length));
        const xs = rowsTensor(train.x, rows, xBuffer);
        const ys = rowsTensor(train.y, rows, yBuffer);
        const cost = optimizer.minimize(() => lossOf(options.loss, ys, model.apply(xs, { training: true }) as tf.Tensor), true)!;
        lossSum += cost.dataSync()[0]! * rows.length;
        tf.dispose([xs, ys, cost]);
        if (performance.now() - lastYield > 50) {
          await yieldToEventLoop();
          lastYield = performance.now();
          options.signal?.throwIfAborted();
        }
      }
      const valLoss = evaluateLoss(model, validation.x, validation.y, options.loss);
      const elapsedMs = performance.now() - started;
      history.push({ epoch, loss: lossSum / order.length, valLoss, elapsedMs });
      if (valLoss < best.valLoss) {
        for (const w of best.weights) w.dispose();
        best = { epoch, valLoss, weights: model.getWeights().map((w) => w.clone()) };
      }
      options.onProgress?.({
        epoch,
        epochs,
        loss: lossSum / order.length,
        valLoss,
        bestEpoch: best.epoch,
        elapsedMs,
        etaMs: (elapsedMs / epoch) * (epochs - epoch),
      });
      options.signal?.throwIfAborted();
      if (epoch - best.epoch >= patience) break;
    }
    model.setWeights(best.weights);
    const last = history[history.length - 1]!;
    return { history, bestEpoch: best.epoch, stoppedEarly: last.epoch < epochs, trainingMs: performance.now() - started };
  } finally {
    for (const w of best.weights) w.dispose();
    optimizer.dispose();
  }
}
