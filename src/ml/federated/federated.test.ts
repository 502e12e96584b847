import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { aggregate, checkUpdate, clipToNorm, exampleWeights, l2Norm, weightedMean } from './aggregation.js';
import { clientMatrices, digitsModelSpec, forecastModelSpec, initialWeights } from './federated-model.js';
import { evaluateWeights, trainClientUpdate } from './client-update.js';
import { labelSkewPartition } from './partition.js';
import { crc32, decodeUpdate, encodeUpdate, fromHalf, Q8_BLOCK, toHalf } from './update-codec.js';
import { packageFederatedModel } from './package-federated.js';
import { loadBundle } from '../bundle/load-bundle.js';
import { parseImageCsv } from '../image/image-csv.js';
import { readDataFile } from '../test-support/data-files.js';

const finiteFloats = fc.float({ noNaN: true, noDefaultInfinity: true, min: -1e4, max: 1e4 });
const vectors = fc.array(finiteFloats, { minLength: 0, maxLength: 700 }).map((a) => Float32Array.from(a));

describe('update encoding', () => {
  it('round-trips float32 exactly, with its metadata', () => {
    fc.assert(
      fc.property(vectors, fc.dictionary(fc.string({ maxLength: 8 }), fc.integer()), (values, meta) => {
        const decoded = decodeUpdate(encodeUpdate(values, 'float32', meta));
        expect(decoded.encoding).toBe('float32');
        expect(Array.from(decoded.values)).toEqual(Array.from(values));
        expect(decoded.meta).toEqual(meta);
      }),
    );
  });

  it('round-trips float16 within half a unit in the last place', () => {
    fc.assert(
      fc.property(vectors, (values) => {
        const decoded = decodeUpdate(encodeUpdate(values, 'float16')).values;
        values.forEach((v, i) => expect(Math.abs(decoded[i]! - v)).toBeLessThanOrEqual(Math.max(Math.abs(v) * 2 ** -11, 2 ** -25)));
      }),
    );
  });

  it('round-trips q8 within half a step of its block', () => {
    fc.assert(
      fc.property(vectors, (values) => {
        const decoded = decodeUpdate(encodeUpdate(values, 'q8')).values;
        for (let from = 0; from < values.length; from += Q8_BLOCK) {
          const block = values.subarray(from, from + Q8_BLOCK);
          const step = (Math.max(...block) - Math.min(...block)) / 255;
          block.forEach((v, i) => expect(Math.abs(decoded[from + i]! - v)).toBeLessThanOrEqual(step / 2 + Math.abs(v) * 1e-6 + 1e-6));
        }
      }),
    );
  });

  it('is 4, 2 and about 1 byte per value', () => {
    const values = new Float32Array(10_000).fill(0.5);
    const sizes = (['float32', 'float16', 'q8'] as const).map((e) => encodeUpdate(values, e).length);
    expect(sizes[0]).toBeGreaterThan(40_000);
    expect(sizes[1]).toBeLessThan(sizes[0]! / 2 + 100);
    expect(sizes[2]).toBeLessThan(sizes[0]! / 3.5);
  });

  it('refuses a damaged frame', () => {
    const frame = encodeUpdate(Float32Array.of(1, 2, 3), 'float32', { examples: 3 });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: frame.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, flip) => {
        const damaged = Uint8Array.from(frame);
        damaged[at]! ^= flip;
        expect(() => decodeUpdate(damaged)).toThrow(/corrupt/);
      }),
    );
    expect(() => decodeUpdate(frame.subarray(0, frame.length - 1))).toThrow(/corrupt/);
  });

  it('keeps NaN and Infinity visible in every encoding, so the check can reject them', () => {
    for (const encoding of ['float32', 'float16', 'q8'] as const) {
      const decoded = decodeUpdate(encodeUpdate(Float32Array.of(1, Number.NaN, 2), encoding)).values;
      expect(checkUpdate(decoded, 3)?.problem).toBe('non-finite');
      const inf = decodeUpdate(encodeUpdate(Float32Array.of(1, Number.POSITIVE_INFINITY), encoding)).values;
      expect(checkUpdate(inf, 2)?.problem).toBe('non-finite');
    }
  });

  it('converts float16 like IEEE 754', () => {
    expect(toHalf(1)).toBe(0x3c00);
    expect(toHalf(-2)).toBe(0xc000);
    expect(toHalf(65504)).toBe(0x7bff);
    expect(toHalf(1e6)).toBe(0x7bff);
    expect(fromHalf(0x3555)).toBeCloseTo(0.33325, 5);
    expect(fromHalf(0x0001)).toBe(2 ** -24);
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });
});

describe('aggregation', () => {
  const sameLength = fc.integer({ min: 1, max: 40 }).chain((n) =>
    fc.array(
      fc.record({
        delta: fc.array(finiteFloats, { minLength: n, maxLength: n }).map((a) => Float32Array.from(a)),
        examples: fc.integer({ min: 1, max: 10_000 }),
      }),
      { minLength: 1, maxLength: 8 },
    ),
  );

  it('of identical updates is that update', () => {
    fc.assert(
      fc.property(sameLength, (updates) => {
        const copies = updates.map((u) => ({ ...u, delta: updates[0]!.delta }));
        const mean = weightedMean(copies);
        mean.forEach((v, i) => expect(v).toBeCloseTo(updates[0]!.delta[i]!, 1));
        const global = new Float32Array(mean.length).fill(1);
        const { weights } = aggregate('fedavg', global, copies, null);
        weights.forEach((w, i) => expect(w).toBeCloseTo(1 + updates[0]!.delta[i]!, 1));
      }),
    );
  });

  it('weighs clients in proportion to their example counts', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 1e6 }), { minLength: 1, maxLength: 20 }), (counts) => {
        const weights = exampleWeights(counts.map((examples) => ({ examples })));
        expect(weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
        counts.forEach((c, i) => expect(weights[i]! / weights[0]!).toBeCloseTo(c / counts[0]!, 9));
      }),
    );
    // Two clients, one with three times the data: the mean sits three quarters of the way to it.
    const mean = weightedMean([
      { delta: Float32Array.of(0), examples: 10 },
      { delta: Float32Array.of(4), examples: 30 },
    ]);
    expect(mean[0]).toBeCloseTo(3, 6);
  });

  it('is a convex combination (each coordinate between the smallest and largest delta)', () => {
    fc.assert(
      fc.property(sameLength, (updates) => {
        const mean = weightedMean(updates);
        mean.forEach((v, i) => {
          const column = updates.map((u) => u.delta[i]!);
          expect(v).toBeGreaterThanOrEqual(Math.min(...column) - 1e-2);
          expect(v).toBeLessThanOrEqual(Math.max(...column) + 1e-2);
        });
      }),
    );
  });

  it('FedAdam moves each weight by at most its server learning rate / (1 − β1) and keeps its moments', () => {
    const global = new Float32Array(3);
    const update = { delta: Float32Array.of(5, -5, 0), examples: 1 };
    const first = aggregate('fedadam', global, [update], null, { serverLearningRate: 0.1 });
    expect(first.state?.step).toBe(1);
    expect(first.weights[0]).toBeGreaterThan(0);
    expect(first.weights[1]).toBeLessThan(0);
    expect(first.weights[2]).toBe(0);
    const second = aggregate('fedadam', first.weights, [update], first.state, { serverLearningRate: 0.1 });
    expect(second.state?.step).toBe(2);
    expect(Math.abs(second.weights[0]!)).toBeLessThan(2);
  });

  it('rejects NaN, Infinity, the wrong length and norms above the bound; clipping bounds the norm', () => {
    expect(checkUpdate(Float32Array.of(1, 2), 3)?.problem).toBe('wrong-length');
    expect(checkUpdate(Float32Array.of(3, 4), 2, 4.9)?.problem).toBe('norm-too-large');
    expect(checkUpdate(Float32Array.of(3, 4), 2, 5)).toBeNull();
    fc.assert(
      fc.property(vectors, fc.float({ min: Math.fround(0.01), max: 100, noNaN: true }), (values, bound) => {
        const clipped = clipToNorm(values, bound);
        expect(l2Norm(clipped)).toBeLessThanOrEqual(bound * (1 + 1e-5));
        if (l2Norm(values) <= bound) expect(Array.from(clipped)).toEqual(Array.from(values));
      }),
    );
  });
});

describe('label-skewed partition', () => {
  it('gives every row to exactly one client', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 20, maxLength: 300 }),
        fc.integer({ min: 1, max: 8 }),
        (labels, clients) => {
          const parts = labelSkewPartition(Int32Array.from(labels), clients, 2, 1);
          const all = parts.flatMap((p) => Array.from(p)).sort((a, b) => a - b);
          expect(all).toEqual(labels.map((_, i) => i));
        },
      ),
    );
  });
});

describe('client training on digits', () => {
  const digits = parseImageCsv(readDataFile('optdigits/optdigits.csv'), { height: 8, width: 8 });
  const spec = digitsModelSpec();

  it('trains an update that lowers the local loss; FedProx stays closer to the global weights', async () => {
    const data = clientMatrices(spec, digits, 0.2, 1);
    const global = await initialWeights(spec);
    const plain = await trainClientUpdate(spec, global, data, { localEpochs: 2, learningRate: 0.1, seed: 3 });
    expect(plain.examples).toBe(data.train.x.rows);
    expect(plain.delta.length).toBe(global.length);
    const after = await trainClientUpdate(
      spec,
      global.map((w, i) => w + plain.delta[i]!),
      data,
      { localEpochs: 1, seed: 4 },
    );
    expect(after.globalEvaluation.accuracy).toBeGreaterThan(0.85);
    expect(after.globalEvaluation.loss).toBeLessThan(plain.globalEvaluation.loss);
    const prox = await trainClientUpdate(spec, global, data, { localEpochs: 2, learningRate: 0.1, seed: 3, proximalMu: 1 });
    expect(l2Norm(prox.delta)).toBeLessThan(l2Norm(plain.delta));
  });

  it('packs the global weights as a bundle that loads and classifies like any other', async () => {
    const weights = await initialWeights(spec);
    const bundle = await packageFederatedModel(spec, weights, {
      jobId: 'fl_test',
      strategy: 'fedavg',
      rounds: [{ round: 1, participants: 2, loss: 1, accuracy: 0.5 }],
      params: {},
      examples: 10,
    });
    const predictor = await loadBundle(bundle);
    try {
      expect(predictor.kind).toBe('image-classifier');
      const outputs = await predictor.predict([
        { name: 'image', shape: [1, 8, 8, 1], datatype: 'FP32', data: Array.from(digits.pixels.subarray(0, 64)) },
      ]);
      expect(outputs.find((o) => o.name === 'label')?.data).toHaveLength(1);
    } finally {
      predictor.dispose();
    }
  });
});

describe('client training on a load series', () => {
  // 60 days of an hourly daily cycle around 1,000 with a little noise.
  const hours = 60 * 24;
  const series = {
    start: Date.UTC(2024, 0, 1) / 1000,
    intervalSeconds: 3600,
    values: Float64Array.from({ length: hours }, (_, i) => 1000 + 200 * Math.sin((2 * Math.PI * i) / 24) + ((i * 7919) % 13)),
    filled: new Uint8Array(hours),
  };
  const spec = forecastModelSpec({ scaler: { mean: 1000, std: 150 }, hidden: [16] });

  it('trains updates that lower the held-out error, and packs a forecaster bundle', async () => {
    const data = clientMatrices(spec, series, 0.2, 1);
    expect(data.loss).toBe('mae');
    expect(data.train.x.cols).toBe(168 + 6);
    let weights = await initialWeights(spec);
    const first = await trainClientUpdate(spec, weights, data, { localEpochs: 2, learningRate: 0.05, batchSize: 32 });
    for (let round = 0; round < 3; round++) {
      const update = await trainClientUpdate(spec, weights, data, { localEpochs: 2, learningRate: 0.05, batchSize: 32, seed: round });
      weights = weights.map((w, i) => w + update.delta[i]!);
    }
    const after = await evaluateWeights(spec, weights, data.validation.x, data.validation.y, 'mae');
    expect(after.loss).toBeLessThan(first.globalEvaluation.loss);
    const bundle = await packageFederatedModel(spec, weights, { jobId: 'fl_f', strategy: 'fedavg', rounds: [], params: {}, examples: 1 });
    const predictor = await loadBundle(bundle);
    expect(predictor.kind).toBe('forecaster');
    predictor.dispose();
  });
});
