import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { buildFederatedModel, digitsModelSpec, forecastModelSpec } from '../federated/federated-model.js';
import { buildImageModel } from '../image/image-model.js';
import type { ImageRecipe } from '../image/image-recipe.js';
import { tf, useBackend } from '../tf/backend.js';
import { buildDenseNet } from '../tf/dense-net.js';
import { seededRandom } from '../tf/seeded-random.js';
import { describeOnnxModel } from './describe-onnx-model.js';
import { layersModelToOnnx } from './export-layers-model.js';

await useBackend('cpu');

const DIGITS: ImageRecipe = {
  height: 8,
  width: 8,
  channels: 1,
  pixelScale: 16,
  classNames: Array.from({ length: 10 }, (_, i) => String(i)),
  architecture: 'conv',
};

const built: tf.LayersModel[] = [];
afterAll(() => built.forEach((m) => m.dispose()));

/** Seeded weights (biases included: the initialisers leave them at zero, which would hide a misplaced bias). */
function randomizeWeights(model: tf.LayersModel, seed: number): tf.LayersModel {
  built.push(model);
  const random = seededRandom(seed);
  const tensors = model.getWeights().map((w) =>
    tf.tensor(
      Float32Array.from({ length: w.size }, () => (random() - 0.5) * 0.8),
      w.shape,
    ),
  );
  model.setWeights(tensors);
  tf.dispose(tensors);
  return model;
}

/** A model with the options the Fogline builders do not use: strides, 'valid' and odd-sized 'same' padding, other activations. */
function unusualConvNet(): tf.LayersModel {
  const model = tf.sequential({ name: 'unusual' });
  model.add(tf.layers.reshape({ name: 'img', targetShape: [7, 5, 2], inputShape: [70] }));
  model.add(tf.layers.conv2d({ name: 'c1', filters: 3, kernelSize: [3, 2], strides: 2, padding: 'same', activation: 'tanh' }));
  model.add(tf.layers.conv2d({ name: 'c2', filters: 4, kernelSize: 2, padding: 'valid', activation: 'elu' }));
  model.add(tf.layers.maxPooling2d({ name: 'p', poolSize: 2, strides: 1, padding: 'same' }));
  model.add(tf.layers.flatten({ name: 'f' }));
  model.add(tf.layers.dense({ name: 'd1', units: 5, activation: 'sigmoid' }));
  model.add(tf.layers.dense({ name: 'd2', units: 4, activation: 'softmax', useBias: false }));
  return model;
}

const architectures: { name: string; make: () => tf.LayersModel; operators: string[] }[] = [
  {
    name: 'forecaster dense net (relu, dropout)',
    make: () => buildDenseNet({ inputSize: 175, hidden: [32, 16], outputs: 24, dropout: 0.2, seed: 3 }),
    operators: ['Gemm', 'Relu'],
  },
  {
    name: 'dense net with elu',
    make: () => buildDenseNet({ inputSize: 12, hidden: [8], outputs: 1, activation: 'elu', seed: 4 }),
    operators: ['Elu', 'Gemm'],
  },
  {
    name: 'dense net with tanh',
    make: () => buildDenseNet({ inputSize: 12, hidden: [8], outputs: 2, activation: 'tanh', seed: 5 }),
    operators: ['Gemm', 'Tanh'],
  },
  {
    name: "digits image classifier, 'conv'",
    make: () => buildImageModel(DIGITS, { hidden: [32], filters: 4, dropout: 0.1, seed: 6 }),
    operators: ['Conv', 'Flatten', 'Gemm', 'MaxPool', 'Relu', 'Reshape', 'Transpose'],
  },
  {
    name: "digits image classifier, 'dense'",
    make: () => buildImageModel({ ...DIGITS, architecture: 'dense' }, { hidden: [64], filters: 4, dropout: 0, seed: 7 }),
    operators: ['Gemm', 'Relu'],
  },
  { name: 'federated digits model', make: () => buildFederatedModel(digitsModelSpec()), operators: ['Gemm', 'Relu'] },
  {
    name: 'federated forecaster',
    make: () => buildFederatedModel(forecastModelSpec({ scaler: { mean: 30000, std: 5000 }, hidden: [16, 16] })),
    operators: ['Gemm', 'Relu'],
  },
  {
    name: "strided, 'valid' and odd 'same' convolutions, sigmoid and softmax",
    make: unusualConvNet,
    operators: ['Conv', 'Elu', 'Flatten', 'Gemm', 'MaxPool', 'Reshape', 'Sigmoid', 'Softmax', 'Tanh', 'Transpose'],
  },
];

describe('layersModelToOnnx', () => {
  describe.each(architectures)('$name', ({ make, operators }) => {
    const model = randomizeWeights(make(), 11);
    const inputSize = model.inputs[0]!.shape[1] as number;
    const outputSize = model.outputs[0]!.shape[1] as number;
    const onnx = layersModelToOnnx(model, { inputName: 'features', outputName: 'scores', producerVersion: '0.15.0' });

    it('gives onnxruntime-node the outputs tfjs predicts (within 1e-5) for batches of 1 and 37', async () => {
      const session = await ort.InferenceSession.create(onnx, { logSeverityLevel: 3 });
      const random = seededRandom(21);
      let compared = 0;
      for (const batch of [1, 1, 1, 1, 37, 37, 37, 37, 37, 37, 37, 37]) {
        const x = Float32Array.from({ length: batch * inputSize }, () => random() * 4 - 2);
        const expected = tf.tidy(() => (model.predict(tf.tensor2d(x, [batch, inputSize])) as tf.Tensor).dataSync() as Float32Array);
        const result = await session.run({ features: new ort.Tensor('float32', x, [batch, inputSize]) });
        expect(result.scores!.dims).toEqual([batch, outputSize]);
        const got = result.scores!.data as Float32Array;
        const worst = Math.max(...Array.from(expected, (e, i) => Math.abs(got[i]! - e) / Math.max(1, Math.abs(e))));
        expect(worst).toBeLessThanOrEqual(1e-5);
        compared += batch;
      }
      expect(compared).toBe(300);
      await session.release();
    });

    it('describes itself: fogline, opset 13, a dynamic batch, the operators it uses', () => {
      const d = describeOnnxModel(onnx);
      expect(d).toMatchObject({ irVersion: 7, producerName: 'fogline', producerVersion: '0.15.0', opsets: [{ domain: '', version: 13 }] });
      expect(d.inputs).toEqual([{ name: 'features', datatype: 'FP32', shape: [-1, inputSize], dimNames: ['batch', null] }]);
      expect(d.outputs).toEqual([{ name: 'scores', datatype: 'FP32', shape: [-1, outputSize], dimNames: ['batch', null] }]);
      expect(d.operators).toEqual(operators);
    });

    it('writes the same bytes for the same model, and for a model built again with the same seed', () => {
      const again = layersModelToOnnx(model, { inputName: 'features', outputName: 'scores', producerVersion: '0.15.0' });
      expect(Buffer.from(again).equals(Buffer.from(onnx))).toBe(true);
      const rebuilt = layersModelToOnnx(randomizeWeights(make(), 11), {
        inputName: 'features',
        outputName: 'scores',
        producerVersion: '0.15.0',
      });
      expect(Buffer.from(rebuilt).equals(Buffer.from(onnx))).toBe(true);
    });
  });

  it('refuses layers it cannot translate, naming the layer', () => {
    const model = tf.sequential({ name: 'with_norm' });
    model.add(tf.layers.dense({ name: 'd', units: 4, inputShape: [3] }));
    model.add(tf.layers.batchNormalization({ name: 'norm' }));
    built.push(model);
    expect(() => layersModelToOnnx(model, { inputName: 'x', outputName: 'y' })).toThrow(/Layer "norm" is a BatchNormalization/);

    const selu = tf.sequential({ layers: [tf.layers.dense({ name: 'd_selu', units: 2, inputShape: [3], activation: 'selu' })] });
    built.push(selu);
    expect(() => layersModelToOnnx(selu, { inputName: 'x', outputName: 'y' })).toThrow(/Layer "d_selu" \(Dense\) has activation "selu"/);
  });

  it('refuses models that are not Sequential', () => {
    const input = tf.input({ shape: [3] });
    const functional = tf.model({
      inputs: input,
      outputs: tf.layers.dense({ units: 1 }).apply(input) as tf.SymbolicTensor,
      name: 'functional',
    });
    built.push(functional);
    expect(() => layersModelToOnnx(functional, { inputName: 'x', outputName: 'y' })).toThrow(/"functional" is not a Sequential model/);
  });
});
