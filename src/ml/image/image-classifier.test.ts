import { describe, expect, it } from 'vitest';
import { loadBundle } from '../bundle/load-bundle.js';
import { MlInputError } from '../errors.js';
import { readDataFile } from '../test-support/data-files.js';
import { evaluateImageClassifier } from './evaluate-image-classifier.js';
import { parseImageCsv } from './image-csv.js';
import { stratifiedSplit } from './stratified-split.js';
import { type ImageData, trainImageClassifier } from './train-image-classifier.js';

const digits = parseImageCsv(readDataFile('optdigits/optdigits.csv'), { height: 8, width: 8 });

describe('parseImageCsv', () => {
  it('reads all 1,797 optdigits images, 8×8, ten classes', () => {
    expect(digits.report).toEqual({ rowsRead: 1797, rowsUsed: 1797, headerSkipped: false, malformedRows: 0, nonNumericRows: 0 });
    expect(digits.pixels).toHaveLength(1797 * 64);
    expect(digits.classNames).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  });

  it('skips a header, counts bad rows, and says when the size does not fit', () => {
    const parsed = parseImageCsv('p1,p2,p3,p4,label\n1,2,3,4,cat\n1,2,3,x,dog\n1,2,dog\n5,6,7,8,dog\n', { height: 2, width: 2 });
    expect(parsed.report).toEqual({ rowsRead: 4, rowsUsed: 2, headerSkipped: true, malformedRows: 1, nonNumericRows: 1 });
    expect(parsed.classNames).toEqual(['cat', 'dog']);
    expect(Array.from(parsed.labels)).toEqual([0, 1]);
    expect(() => parseImageCsv('1,2,3,4,5\n', { height: 3, width: 3 })).toThrow(/No row has 9 pixel columns/);
  });
});

describe('stratifiedSplit', () => {
  it('keeps every class in every part and never reuses a row', () => {
    const split = stratifiedSplit(digits.labels, 10, 0.2, 0.1, 7);
    const all = [...split.train, ...split.validation, ...split.test];
    expect(new Set(all).size).toBe(1797);
    for (const part of [split.train, split.validation, split.test])
      expect(new Set(Array.from(part, (r) => digits.labels[r])).size).toBe(10);
  });
});

describe('trainImageClassifier', async () => {
  const trained = await trainImageClassifier(digits, { epochs: 3, hidden: [32] });
  const evaluated = await evaluateImageClassifier(trained.bundle, digits);

  it('trains on the digits and scores the held-out split beside the majority class', () => {
    expect(trained.split).toEqual({ train: 1293, validation: 145, test: 359 });
    const losses = trained.training.history.map((e) => e.loss);
    expect(losses[losses.length - 1]).toBeLessThan(losses[0]!);
    expect(evaluated.test.model.confusion).toHaveLength(10);
    expect(evaluated.test.model.count).toBe(359);
    expect(evaluated.test.baseline.metrics.accuracy).toBeLessThan(0.2);
    expect(evaluated.test.model.accuracy).toBeGreaterThan(evaluated.test.baseline.metrics.accuracy);
  });

  it('takes image size and class count as parameters', async () => {
    // 5×3 images with 3 channels and 4 classes: each class brightens one channel band.
    const n = 80;
    const data: ImageData = {
      height: 5,
      width: 3,
      channels: 3,
      pixels: new Float32Array(n * 45),
      labels: new Int32Array(n),
      classNames: ['a', 'b', 'c', 'd'],
    };
    for (let i = 0; i < n; i++) {
      data.labels[i] = i % 4;
      for (let p = 0; p < 45; p++) data.pixels[i * 45 + p] = ((p + i) % 7) * 10 + (p % 4 === i % 4 ? 200 : 0);
    }
    const small = await trainImageClassifier(data, { epochs: 2, hidden: [8] });
    expect(small.manifest.signature).toEqual({
      inputs: [{ name: 'image', datatype: 'FP32', shape: [-1, 5, 3, 3] }],
      outputs: [
        { name: 'probabilities', datatype: 'FP32', shape: [-1, 4] },
        { name: 'label', datatype: 'INT64', shape: [-1] },
      ],
    });
    const predictor = await loadBundle(small.bundle);
    const [probabilities, label] = await predictor.predict([
      { name: 'image', shape: [2, 5, 3, 3], data: Array.from(data.pixels.subarray(0, 90)) },
    ]);
    expect(probabilities!.shape).toEqual([2, 4]);
    const sums = [0, 1].map((r) => (probabilities!.data as number[]).slice(r * 4, r * 4 + 4).reduce((a, b) => a + b, 0));
    sums.forEach((s) => expect(s).toBeCloseTo(1, 5));
    expect(label!.shape).toEqual([2]);
    await expect(predictor.predict([{ name: 'image', shape: [1, 8, 8, 1], data: new Array(64).fill(0) }])).rejects.toBeInstanceOf(
      MlInputError,
    );
    predictor.dispose();
  });

  it('refuses labels that do not match the images', async () => {
    await expect(trainImageClassifier({ ...digits, labels: digits.labels.subarray(1) })).rejects.toThrow(/need \d+ pixels/);
  });
});
