import fs from 'node:fs';
import { readBundleManifest } from '../../ml/bundle/read-manifest.js';
import { evaluateImageClassifier } from '../../ml/image/evaluate-image-classifier.js';
import { parseImageCsv } from '../../ml/image/image-csv.js';
import { IMAGE_CLASSIFIER_PARAMS, type ImageClassifierParams } from '../../ml/image/image-params.js';
import { type ImageClassifierManifest, type ImageEvaluation, trainImageClassifier } from '../../ml/image/train-image-classifier.js';
import { resolveParams } from '../../ml/params.js';
import { decodeImages, encodeImages } from './image-file.js';
import { StepCache } from './step-cache.js';
import type { StepContext } from './step-context.js';
import type { ToWorker, WorkerResult } from './worker-protocol.js';

type RunMessage = Extract<ToWorker, { type: 'run' }>;

/** prepare → train → evaluate for the image classifier; size and classes come from the dataset. */
export async function runImageClassifierPipeline(run: RunMessage, ctx: StepContext): Promise<WorkerResult> {
  const params = resolveParams<ImageClassifierParams>(IMAGE_CLASSIFIER_PARAMS, run.params);
  const { imageHeight, imageWidth, imageChannels } = run.dataset.read;

  const prepareKey = StepCache.key({ step: 'image-prepare', dataset: run.dataset.sha256, read: run.dataset.read, code: run.codeVersion });
  const prepared = await ctx.step(
    'prepare',
    prepareKey,
    ['images.bin'],
    async () => {
      ctx.log('prepare', 'Reading the images');
      const images = parseImageCsv(await fs.promises.readFile(run.dataset.file, 'utf8'), {
        height: imageHeight ?? 0,
        width: imageWidth ?? 0,
        channels: imageChannels ?? 1,
      });
      return { 'images.bin': encodeImages(images) };
    },
    (files) => {
      const images = decodeImages(files['images.bin']);
      return {
        images: images.labels.length,
        classes: images.classNames.length,
        size: `${images.height}x${images.width}x${images.channels}`,
      };
    },
  );
  const data = decodeImages(prepared['images.bin']);

  const trainKey = StepCache.key({ step: 'image-train', prepared: prepareKey, params, code: run.codeVersion });
  const trained = await ctx.step(
    'train',
    trainKey,
    ['bundle.bin', 'training.json'],
    async () => {
      const result = await trainImageClassifier(data, params, { onProgress: ctx.progress('train'), signal: ctx.signal });
      return {
        'bundle.bin': result.bundle,
        'training.json': JSON.stringify({ ...result.training, split: result.split, validation: result.manifest.metrics.validation }),
      };
    },
    (files) => {
      const training = JSON.parse(files['training.json'].toString()) as {
        history: unknown[];
        bestEpoch: number;
        trainingMs: number;
        validation: { accuracy: number };
      };
      return {
        epochsRun: training.history.length,
        bestEpoch: training.bestEpoch,
        trainingMs: training.trainingMs,
        validationAccuracy: training.validation.accuracy,
      };
    },
  );

  const evaluateKey = StepCache.key({ step: 'image-evaluate', trained: trainKey, prepared: prepareKey, code: run.codeVersion });
  const evaluated = await ctx.step(
    'evaluate',
    evaluateKey,
    ['bundle.bin', 'test.json'],
    async () => {
      const evaluation = await evaluateImageClassifier(trained['bundle.bin'], data, {
        onProgress: ctx.progress('evaluate'),
        signal: ctx.signal,
      });
      return { 'bundle.bin': evaluation.bundle, 'test.json': JSON.stringify(evaluation.test) };
    },
    (files) => {
      const test = JSON.parse(files['test.json'].toString()) as ImageEvaluation;
      return { accuracy: test.model.accuracy, macroF1: test.model.macroF1, baselineAccuracy: test.baseline.metrics.accuracy };
    },
  );

  const test = JSON.parse(evaluated['test.json'].toString()) as ImageEvaluation;
  const manifest = readBundleManifest<ImageClassifierManifest>(evaluated['bundle.bin']);
  return {
    bundleFile: ctx.cache.file(evaluateKey, 'bundle.bin'),
    kind: 'image-classifier',
    ioSignature: manifest.signature,
    metrics: {
      accuracy: test.model.accuracy,
      macroF1: test.model.macroF1,
      baselineAccuracy: test.baseline.metrics.accuracy,
      test,
      classes: data.classNames,
    },
    gate: {
      passed: test.beatsBaseline,
      metric: 'accuracy',
      model: test.model.accuracy,
      baseline: test.baseline.metrics.accuracy,
      baselineName: 'majority-class',
      rule: 'test accuracy above the majority-class baseline on the same images',
    },
    params: params as unknown as Record<string, unknown>,
  };
}
