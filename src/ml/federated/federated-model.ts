import { MlInputError } from '../errors.js';
import { buildInputs, checkRecipe, encodeTargets, type ForecastRecipe, inputSize } from '../forecast/forecast-recipe.js';
import { gatherWindows } from '../forecast/forecast-windows.js';
import { buildImageModel } from '../image/image-model.js';
import type { ImageRecipe } from '../image/image-recipe.js';
import { imageRows, type ImageData } from '../image/train-image-classifier.js';
import { tf, useBackend } from '../tf/backend.js';
import { buildDenseNet } from '../tf/dense-net.js';
import type { LossName, Matrix } from '../tf/train-loop.js';
import { seededRandom, shuffleInPlace } from '../tf/seeded-random.js';
import type { RegularSeries } from '../timeseries/series-types.js';
import { splitWindows } from '../timeseries/windows.js';

/**
 * The one architecture every client and the server share for a federated job: fixed by the job,
 * so weights can be exchanged as flat float32 vectors. Preprocessing (pixel scale, the forecast
 * scaler) is global too: clients never fit their own, or their weights would mean different things.
 */
export type FederatedModelSpec =
  | { kind: 'image-classifier'; recipe: ImageRecipe; hidden: number[]; seed: number }
  | { kind: 'forecaster'; recipe: ForecastRecipe; hidden: number[]; seed: number; loss: LossName };

/** The optdigits classifier: 8×8 pixels (0..16), ten classes, a dense net. */
export function digitsModelSpec(options: { hidden?: number[]; seed?: number } = {}): FederatedModelSpec {
  return {
    kind: 'image-classifier',
    recipe: {
      height: 8,
      width: 8,
      channels: 1,
      pixelScale: 16,
      classNames: Array.from({ length: 10 }, (_, i) => String(i)),
      architecture: 'dense',
    },
    hidden: options.hidden ?? [64],
    seed: options.seed ?? 1,
  };
}

/**
 * An hourly load forecaster (a day ahead from a week, calendar features). The scaler is the job's,
 * e.g. a region's typical load in MW: every site scales with the same numbers.
 */
export function forecastModelSpec(options: {
  scaler: { mean: number; std: number };
  window?: number;
  horizon?: number;
  hidden?: number[];
  seed?: number;
}): FederatedModelSpec {
  const recipe: ForecastRecipe = {
    window: options.window ?? 168,
    horizon: options.horizon ?? 24,
    intervalSeconds: 3600,
    scaler: options.scaler,
    target: 'level',
    calendar: true,
  };
  checkRecipe(recipe);
  return { kind: 'forecaster', recipe, hidden: options.hidden ?? [64, 64], seed: options.seed ?? 1, loss: 'mae' };
}

export function buildFederatedModel(spec: FederatedModelSpec): tf.LayersModel {
  if (spec.kind === 'image-classifier') {
    if (spec.recipe.architecture !== 'dense')
      throw new MlInputError('bad-parameter', 'Federated image classifiers are dense nets (WASM has no Conv2D gradient).');
    return buildImageModel(spec.recipe, { hidden: spec.hidden, filters: 1, dropout: 0, seed: spec.seed });
  }
  return buildDenseNet({ inputSize: inputSize(spec.recipe), hidden: spec.hidden, outputs: spec.recipe.horizon, seed: spec.seed });
}

/** The model's weights, concatenated in the model's own order, as one float32 vector. */
export function flatWeights(model: tf.LayersModel): Float32Array {
  const tensors = model.getWeights();
  const out = new Float32Array(tensors.reduce((n, t) => n + t.size, 0));
  let at = 0;
  for (const t of tensors) {
    out.set(t.dataSync() as Float32Array, at);
    at += t.size;
  }
  return out;
}

export function setFlatWeights(model: tf.LayersModel, flat: Float32Array): void {
  const shapes = model.getWeights().map((t) => t.shape);
  const total = shapes.reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);
  if (flat.length !== total) throw new MlInputError('bad-input', `The weights have ${flat.length} values; the model has ${total}.`);
  let at = 0;
  const tensors = shapes.map((shape) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const t = tf.tensor(flat.subarray(at, at + size), shape);
    at += size;
    return t;
  });
  model.setWeights(tensors);
  tf.dispose(tensors);
}

/** The seeded initial global weights (round 0). */
export async function initialWeights(spec: FederatedModelSpec): Promise<Float32Array> {
  await useBackend('wasm');
  const model = buildFederatedModel(spec);
  try {
    return flatWeights(model);
  } finally {
    model.dispose();
  }
}

export async function weightCount(spec: FederatedModelSpec): Promise<number> {
  return (await initialWeights(spec)).length;
}

export interface ClientMatrices {
  train: { x: Matrix; y: Matrix };
  validation: { x: Matrix; y: Matrix };
  loss: LossName;
}

function rowsOf(m: Matrix, rows: Int32Array): Matrix {
  const data = new Float32Array(rows.length * m.cols);
  rows.forEach((row, r) => data.set(m.data.subarray(row * m.cols, (row + 1) * m.cols), r * m.cols));
  return { data, rows: rows.length, cols: m.cols };
}

/**
 * A client's local data as network inputs and targets, with a held-out share for federated
 * evaluation: images are split at random (seeded); a series keeps its last share (chronological).
 */
export function clientMatrices(
  spec: FederatedModelSpec,
  data: ImageData | RegularSeries,
  validationFraction = 0.15,
  seed = 1,
): ClientMatrices {
  if (spec.kind === 'image-classifier') {
    const images = data as ImageData;
    if (!('labels' in images)) throw new MlInputError('bad-input', 'An image-classifier job needs image data on the client.');
    const size = spec.recipe.height * spec.recipe.width * spec.recipe.channels;
    if (images.pixels.length !== images.labels.length * size)
      throw new MlInputError(
        'bad-input',
        `The client's images are not ${spec.recipe.height}×${spec.recipe.width}×${spec.recipe.channels}.`,
      );
    // Labels index the job's classes (the client may hold only some of them).
    const classIndex = images.classNames.map((name) => spec.recipe.classNames.indexOf(name));
    if (classIndex.some((i) => i < 0))
      throw new MlInputError('bad-input', `The client holds classes the job does not know (${images.classNames.join(', ')}).`);
    const remapped: ImageData = {
      ...images,
      labels: Int32Array.from(images.labels, (l) => classIndex[l]!),
      classNames: spec.recipe.classNames,
    };
    const order = Int32Array.from({ length: images.labels.length }, (_, i) => i);
    shuffleInPlace(order, seededRandom(seed));
    const nValidation = Math.max(1, Math.round(order.length * validationFraction));
    if (order.length - nValidation < 1) throw new MlInputError('too-short', 'The client holds too few images to train on.');
    const all = imageRows(
      remapped,
      Int32Array.from({ length: order.length }, (_, i) => i),
      spec.recipe.pixelScale,
    );
    const pick = (rows: Int32Array) => ({ x: rowsOf(all.x, rows), y: rowsOf(all.y, rows) });
    return {
      train: pick(order.subarray(nValidation).slice().sort()),
      validation: pick(order.subarray(0, nValidation).slice().sort()),
      loss: 'softmax-cross-entropy',
    };
  }
  const series = data as RegularSeries;
  if (!('values' in series)) throw new MlInputError('bad-input', 'A forecaster job needs a time series on the client.');
  const { recipe } = spec;
  if (series.intervalSeconds !== recipe.intervalSeconds)
    throw new MlInputError(
      'bad-input',
      `The client's series is every ${series.intervalSeconds} s; the job's every ${recipe.intervalSeconds} s.`,
    );
  const split = splitWindows(
    series.values.length,
    { window: recipe.window, horizon: recipe.horizon, testFraction: validationFraction, validationFraction: 0.01 },
    series.filled,
  );
  const matrices = (origins: Int32Array) => {
    const batch = gatherWindows(series, origins, recipe.window, recipe.horizon);
    return {
      x: { data: buildInputs(recipe, batch.histories, batch.startTimes, batch.n), rows: batch.n, cols: inputSize(recipe) },
      y: { data: encodeTargets(recipe, batch.histories, batch.targets, batch.n), rows: batch.n, cols: recipe.horizon },
    };
  };
  // Local training uses train + validation windows; the (chronologically last) test windows evaluate.
  const trainOrigins = Int32Array.from([...split.train, ...split.validation]);
  return { train: matrices(trainOrigins), validation: matrices(split.test), loss: spec.loss };
}

/** All of a central data set as inputs and targets (every image; every complete window), for server-side evaluation. */
export function evaluationMatrices(spec: FederatedModelSpec, data: ImageData | RegularSeries): { x: Matrix; y: Matrix; loss: LossName } {
  if (spec.kind === 'image-classifier') {
    const m = clientMatrices(spec, data, 1e-9, 1);
    const rows = m.train.x.rows + m.validation.x.rows;
    const join = (a: Matrix, b: Matrix): Matrix => {
      const out = new Float32Array(rows * a.cols);
      out.set(a.data);
      out.set(b.data, a.data.length);
      return { data: out, rows, cols: a.cols };
    };
    return { x: join(m.train.x, m.validation.x), y: join(m.train.y, m.validation.y), loss: m.loss };
  }
  // The last fifth of the series, chronologically: the same held-out share a client keeps.
  const m = clientMatrices(spec, data, 0.2, 1);
  return { ...m.validation, loss: m.loss };
}
