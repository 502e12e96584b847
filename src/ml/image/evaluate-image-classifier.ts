import { decodeContainer, encodeContainer } from '../bundle/bundle-container.js';
import { loadBundle } from '../bundle/load-bundle.js';
import { MlInputError } from '../errors.js';
import { classificationMetrics } from '../metrics/classification-metrics.js';
import type { RunOptions } from '../progress.js';
import { argmax, type ImageClassifierPredictor } from './image-classifier-predictor.js';
import type { ImageClassifierParams } from './image-params.js';
import {
  checkImageData,
  type ImageClassifierManifest,
  type ImageData,
  type ImageEvaluation,
  imageRows,
  splitImages,
} from './train-image-classifier.js';

/**
 * Scores an image-classifier bundle on the test split its training parameters define (a fresh
 * load, as served), beside the majority-class baseline; returns the bundle with `metrics.test`.
 */
export async function evaluateImageClassifier(
  bytes: Uint8Array,
  data: ImageData,
  options: RunOptions = {},
): Promise<{ bundle: Uint8Array; manifest: ImageClassifierManifest; test: ImageEvaluation; predictions: Int32Array }> {
  checkImageData(data);
  options.onProgress?.({ phase: 'evaluate', message: 'Classifying the test split' });
  const predictor = await loadBundle(bytes);
  try {
    if (predictor.manifest.kind !== 'image-classifier')
      throw new MlInputError('bad-input', `This bundle holds a model of kind ${predictor.manifest.kind}, not an image classifier.`);
    const params = predictor.manifest.training.params as unknown as ImageClassifierParams & { majorityClass: number };
    const classes = data.classNames.length;
    const split = splitImages(data, params);
    const rows = imageRows(data, split.test);
    const probabilities = await (predictor as unknown as ImageClassifierPredictor).classify(rows.x.data, split.test.length);
    const predictions = Int32Array.from(split.test, (_, r) => argmax(probabilities, r * classes, classes));
    const actual = Int32Array.from(split.test, (row) => data.labels[row]!);
    const model = classificationMetrics(actual, predictions, classes);
    const baseline = classificationMetrics(actual, new Int32Array(actual.length).fill(params.majorityClass), classes);
    const test: ImageEvaluation = {
      model,
      baseline: { name: 'majority-class', label: params.majorityClass, metrics: baseline },
      beatsBaseline: model.accuracy > baseline.accuracy,
    };
    const { manifest, files } = decodeContainer(bytes);
    const { files: _entries, ...rest } = manifest;
    const bundle = encodeContainer(
      { ...rest, metrics: { ...(manifest.metrics as object), test } },
      [...files].map(([name, content]) => ({ name, bytes: content })),
    );
    return { bundle, manifest: decodeContainer(bundle).manifest as unknown as ImageClassifierManifest, test, predictions };
  } finally {
    predictor.dispose();
  }
}
