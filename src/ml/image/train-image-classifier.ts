import { majorityClass } from '../baselines/majority-class.js';
import type { BundleManifest } from '../bundle/bundle-manifest.js';
import { type ManifestBody, packageModel, trainingSummary, trainingOutcome, type TrainingOutcome } from '../bundle/package-model.js';
import { readBundleManifest } from '../bundle/read-manifest.js';
import { MlInputError } from '../errors.js';
import type { ClassificationMetrics } from '../metrics/classification-metrics.js';
import { resolveParams } from '../params.js';
import type { RunOptions } from '../progress.js';
import { arraysFingerprint } from '../stats/fingerprint.js';
import { referenceStats } from '../stats/reference-stats.js';
import { useBackend } from '../tf/backend.js';
import { type Matrix, trainModel } from '../tf/train-loop.js';
import { TfjsNetwork } from '../tf/tfjs-network.js';
import { argmax, ImageClassifierPredictor, imageClassifierSignature } from './image-classifier-predictor.js';
import { buildImageModel } from './image-model.js';
import { IMAGE_CLASSIFIER_PARAMS, type ImageClassifierParams } from './image-params.js';
import { type ImageRecipe, pixelsPerImage } from './image-recipe.js';
import { type IndexSplit, stratifiedSplit } from './stratified-split.js';

/** Labelled images: n × height × width × channels raw pixels (row-major) and a class index per image. */
export interface ImageData {
  height: number;
  width: number;
  channels: number;
  pixels: Float32Array;
  labels: Int32Array;
  classNames: string[];
}

export interface ImageEvaluation {
  model: ClassificationMetrics;
  baseline: { name: 'majority-class'; label: number; metrics: ClassificationMetrics };
  beatsBaseline: boolean;
}

export type ImageClassifierManifest = BundleManifest<
  ImageRecipe,
  { validation: { accuracy: number; count: number }; test?: ImageEvaluation }
>;

export interface ImageClassifierTrainingResult {
  bundle: Uint8Array;
  manifest: ImageClassifierManifest;
  training: TrainingOutcome;
  split: { train: number; validation: number; test: number };
}

export function checkImageData(data: ImageData): void {
  const size = pixelsPerImage(data);
  if (!(size > 0) || data.pixels.length !== data.labels.length * size) {
    throw new MlInputError(
      'bad-input',
      `${data.labels.length} labels need ${data.labels.length * size} pixels (${data.height}×${data.width}×${data.channels} each); got ${data.pixels.length}.`,
    );
  }
  if (data.classNames.length < 2)
    throw new MlInputError('bad-input', `A classifier needs at least 2 classes (got ${data.classNames.length}).`);
  if (data.labels.some((l) => l < 0 || l >= data.classNames.length))
    throw new MlInputError('bad-input', `Labels must be class indices 0..${data.classNames.length - 1}.`);
}

export function splitImages(data: ImageData, params: ImageClassifierParams): IndexSplit {
  return stratifiedSplit(data.labels, data.classNames.length, params.testFraction, params.validationFraction, params.seed);
}

/** Selected images as a matrix of raw pixels, and their labels one-hot. */
export function imageRows(data: ImageData, rows: Int32Array, scale = 1): { x: Matrix; y: Matrix } {
  const size = pixelsPerImage(data);
  const classes = data.classNames.length;
  const x = new Float32Array(rows.length * size);
  const y = new Float32Array(rows.length * classes);
  rows.forEach((row, r) => {
    for (let i = 0; i < size; i++) x[r * size + i] = data.pixels[row * size + i]! / scale;
    y[r * classes + data.labels[row]!] = 1;
  });
  return { x: { data: x, rows: rows.length, cols: size }, y: { data: y, rows: rows.length, cols: classes } };
}

/**
 * Trains the image classifier (any image size and class count) on a stratified split, stopping
 * early on validation loss. Score the held-out test split with evaluateImageClassifier.
 *
 * @example const { bundle } = await trainImageClassifier(parseImageCsv(text, { height: 8, width: 8 }));
 */
export async function trainImageClassifier(
  data: ImageData,
  parameters: Partial<ImageClassifierParams> = {},
  options: RunOptions = {},
): Promise<ImageClassifierTrainingResult> {
  const params = resolveParams<ImageClassifierParams>(IMAGE_CLASSIFIER_PARAMS, parameters);
  checkImageData(data);
  options.onProgress?.({ phase: 'prepare', message: 'Splitting and scaling the images' });
  // WASM has no Conv2D gradient kernel, so convolutional models train on the CPU backend.
  const backend = await useBackend(params.architecture === 'conv' ? 'cpu' : params.backend);
  const split = splitImages(data, params);
  const train = imageRows(data, split.train);
  const pixelScale = train.x.data.reduce((m, v) => Math.max(m, v), 0) || 1;
  const recipe: ImageRecipe = {
    height: data.height,
    width: data.width,
    channels: data.channels,
    pixelScale,
    classNames: [...data.classNames],
    architecture: params.architecture,
  };
  const model = buildImageModel(recipe, params);
  try {
    const scaledTrain = imageRows(data, split.train, pixelScale);
    const scaledValidation = imageRows(data, split.validation, pixelScale);
    const result = await trainModel(model, scaledTrain, scaledValidation, {
      epochs: params.epochs,
      batchSize: params.batchSize,
      learningRate: params.learningRate,
      patience: params.patience,
      seed: params.seed,
      loss: 'softmax-cross-entropy',
      onProgress: (p) => options.onProgress?.({ phase: 'train', ...p }),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    options.onProgress?.({ phase: 'package', message: 'Scoring the validation split and packing the bundle' });
    const classes = recipe.classNames.length;
    const validationRaw = imageRows(data, split.validation);
    const probabilities = await new ImageClassifierPredictor(new TfjsNetwork(model), recipe).classify(
      validationRaw.x.data,
      split.validation.length,
    );
    const correct = Array.from(split.validation).filter(
      (row, r) => argmax(probabilities, r * classes, classes) === data.labels[row],
    ).length;
    const body: ManifestBody<ImageRecipe, ImageClassifierManifest['metrics']> = {
      kind: 'image-classifier',
      signature: imageClassifierSignature(recipe),
      preprocessing: recipe,
      metrics: { validation: { accuracy: correct / split.validation.length, count: split.validation.length } },
      training: trainingSummary(
        {
          ...params,
          majorityClass: majorityClass(
            Int32Array.from(split.train, (r) => data.labels[r]!),
            classes,
          ),
        },
        backend,
        result,
      ),
      data: arraysFingerprint(data.pixels, data.labels),
      referenceStats: { inputs: { image: referenceStats(train.x.data) }, outputs: { probabilities: referenceStats(probabilities) } },
    };
    const bundle = await packageModel(model, body);
    return {
      bundle,
      manifest: readBundleManifest<ImageClassifierManifest>(bundle),
      training: trainingOutcome(result, backend),
      split: { train: split.train.length, validation: split.validation.length, test: split.test.length },
    };
  } finally {
    model.dispose();
  }
}
