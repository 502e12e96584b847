import { requireParameter } from '../errors.js';
import { tf, useBackend } from '../tf/backend.js';
import { seededRandom, shuffleInPlace } from '../tf/seeded-random.js';
import { type LossName, lossOf, type Matrix } from '../tf/train-loop.js';
import { buildFederatedModel, type ClientMatrices, type FederatedModelSpec, flatWeights, setFlatWeights } from './federated-model.js';

/** How a client trains in one round. */
export interface ClientTrainParams {
  /** Passes over the local training data per round. */
  localEpochs: number;
  batchSize: number;
  /** Client SGD learning rate. */
  learningRate: number;
  /** FedProx's μ: the weight of (μ/2)·‖w − w_global‖² in the local loss; 0 is plain FedAvg. */
  proximalMu: number;
  /** Seeds the shuffling (combine the round and the client so rounds differ). */
  seed: number;
}

export const DEFAULT_CLIENT_PARAMS: ClientTrainParams = { localEpochs: 1, batchSize: 32, learningRate: 0.1, proximalMu: 0, seed: 1 };

export interface LocalEvaluation {
  loss: number;
  /** Classifiers only. */
  accuracy?: number;
  count: number;
}

export interface ClientUpdateResult {
  /** Trained weights minus the global weights it started from. */
  delta: Float32Array;
  /** Training examples used: the FedAvg weight. */
  examples: number;
  /** The global model (before local training) on the client's held-out data: federated evaluation. */
  globalEvaluation: LocalEvaluation;
  /** Mean training loss over the local steps. */
  trainLoss: number;
  trainingMs: number;
}

/** Loss (and accuracy for one-hot targets) of a model on a whole matrix. */
export function evaluateMatrices(model: tf.LayersModel, x: Matrix, y: Matrix, loss: LossName): LocalEvaluation {
  if (x.rows === 0) return { loss: Number.NaN, count: 0 };
  return tf.tidy(() => {
    const xs = tf.tensor2d(x.data, [x.rows, x.cols]);
    const ys = tf.tensor2d(y.data, [y.rows, y.cols]);
    const predictions = model.predict(xs) as tf.Tensor;
    const value = lossOf(loss, ys, predictions).dataSync()[0]!;
    if (loss !== 'softmax-cross-entropy') return { loss: value, count: x.rows };
    const correct = tf.equal(tf.argMax(predictions, 1), tf.argMax(ys, 1)).sum().dataSync()[0]!;
    return { loss: value, accuracy: correct / x.rows, count: x.rows };
  });
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * One client's work in a round: load the global weights, score them on the local held-out data,
 * train locally with SGD (plus FedProx's proximal term when μ > 0), and return the weight delta
 * and the example count. Plain data in and out, so it runs in a worker thread.
 */
export async function trainClientUpdate(
  spec: FederatedModelSpec,
  globalWeights: Float32Array,
  data: ClientMatrices,
  parameters: Partial<ClientTrainParams> = {},
  options: { signal?: AbortSignal; backend?: 'wasm' | 'cpu' } = {},
): Promise<ClientUpdateResult> {
  const params = { ...DEFAULT_CLIENT_PARAMS, ...parameters };
  requireParameter(
    Number.isInteger(params.localEpochs) && params.localEpochs >= 1 && params.localEpochs <= 100,
    'localEpochs',
    'an integer from 1 to 100',
    params.localEpochs,
  );
  requireParameter(Number.isInteger(params.batchSize) && params.batchSize >= 1, 'batchSize', 'a positive integer', params.batchSize);
  requireParameter(params.learningRate > 0 && params.learningRate <= 10, 'learningRate', 'above 0, at most 10', params.learningRate);
  requireParameter(params.proximalMu >= 0 && params.proximalMu <= 100, 'proximalMu', 'from 0 to 100', params.proximalMu);
  await useBackend(options.backend ?? 'wasm');
  const started = performance.now();
  const model = buildFederatedModel(spec);
  const optimizer = tf.train.sgd(params.learningRate);
  const anchors: tf.Tensor[] = [];
  try {
    setFlatWeights(model, globalWeights);
    const globalEvaluation = evaluateMatrices(model, data.validation.x, data.validation.y, data.loss);
    const trainable = model.trainableWeights.map((w) => w.read());
    if (params.proximalMu > 0) for (const w of trainable) anchors.push(tf.keep(w.clone()));
    const { x, y } = data.train;
    const random = seededRandom(params.seed);
    const order = Int32Array.from({ length: x.rows }, (_, i) => i);
    const xBuffer = new Float32Array(params.batchSize * x.cols);
    const yBuffer = new Float32Array(params.batchSize * y.cols);
    let lossSum = 0;
    let steps = 0;
    let lastYield = performance.now();
    for (let epoch = 0; epoch < params.localEpochs; epoch++) {
      shuffleInPlace(order, random);
      for (let from = 0; from < order.length; from += params.batchSize) {
        const rows = order.subarray(from, Math.min(from + params.batchSize, order.length));
        for (let r = 0; r < rows.length; r++) {
          xBuffer.set(x.data.subarray(rows[r]! * x.cols, (rows[r]! + 1) * x.cols), r * x.cols);
          yBuffer.set(y.data.subarray(rows[r]! * y.cols, (rows[r]! + 1) * y.cols), r * y.cols);
        }
        const xs = tf.tensor2d(xBuffer.subarray(0, rows.length * x.cols), [rows.length, x.cols]);
        const ys = tf.tensor2d(yBuffer.subarray(0, rows.length * y.cols), [rows.length, y.cols]);
        const cost = optimizer.minimize(() => {
          const base = lossOf(data.loss, ys, model.apply(xs, { training: true }) as tf.Tensor);
          if (params.proximalMu === 0) return base;
          const proximal = tf.addN(model.trainableWeights.map((w, i) => tf.sum(tf.square(tf.sub(w.read(), anchors[i]!)))));
          return tf.add(base, tf.mul(params.proximalMu / 2, proximal)) as tf.Scalar;
        }, true)!;
        lossSum += cost.dataSync()[0]!;
        steps += 1;
        tf.dispose([xs, ys, cost]);
        if (performance.now() - lastYield > 50) {
          await yieldToEventLoop();
          lastYield = performance.now();
          options.signal?.throwIfAborted();
        }
      }
    }
    const trained = flatWeights(model);
    const delta = Float32Array.from(trained, (w, i) => w - globalWeights[i]!);
    return {
      delta,
      examples: x.rows,
      globalEvaluation,
      trainLoss: steps ? lossSum / steps : Number.NaN,
      trainingMs: performance.now() - started,
    };
  } finally {
    tf.dispose(anchors);
    optimizer.dispose();
    model.dispose();
  }
}

/** Scores given weights on data (server-side evaluation where a central test set exists; the bench). */
export async function evaluateWeights(
  spec: FederatedModelSpec,
  weights: Float32Array,
  x: Matrix,
  y: Matrix,
  loss: LossName,
): Promise<LocalEvaluation> {
  await useBackend('wasm');
  const model = buildFederatedModel(spec);
  try {
    setFlatWeights(model, weights);
    return evaluateMatrices(model, x, y, loss);
  } finally {
    model.dispose();
  }
}
