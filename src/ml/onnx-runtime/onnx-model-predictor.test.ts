import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadBundle } from '../bundle/load-bundle.js';
import { isMlInputError, MlInputError } from '../errors.js';
import { graphProto, modelProto, nodeProto, tensorValueInfo } from '../onnx/onnx-builders.js';
import { datatypeToOnnxElementType } from '../onnx/onnx-schema.js';
import { fromHalfBits, toHalfBits } from '../bundle/half-float.js';
import { packageImportedModel } from './imported-model.js';

/** y = Identity(x) for one datatype, with a dynamic batch: every value comes back as it went in. */
function identityModel(datatype: Parameters<typeof datatypeToOnnxElementType>[0], width = 3): Uint8Array {
  const type = datatypeToOnnxElementType(datatype);
  const graph = graphProto({
    name: 'identity',
    nodes: [nodeProto('Identity', ['x'], ['y'], 'id')],
    initializers: [],
    inputs: [tensorValueInfo('x', type, ['batch', width])],
    outputs: [tensorValueInfo('y', type, ['batch', width])],
  });
  return modelProto({ irVersion: 8, opsets: [{ domain: '', version: 13 }], producerName: 'test', producerVersion: '1' }, graph);
}

/** probabilities = Softmax(x) over 3 classes. */
function classifierModel(): Uint8Array {
  const graph = graphProto({
    name: 'classifier',
    nodes: [nodeProto('Softmax', ['x'], ['probabilities'], 'softmax', { axis: 1 })],
    initializers: [],
    inputs: [tensorValueInfo('x', 1, ['batch', 3])],
    outputs: [tensorValueInfo('probabilities', 1, ['batch', 3])],
  });
  return modelProto({ irVersion: 8, opsets: [{ domain: '', version: 13 }], producerName: 'test' }, graph);
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

async function imported(onnx: Uint8Array, labels?: string[]) {
  const { bundle } = packageImportedModel(onnx, { fileSha256: sha256(onnx), fileName: 'm.onnx', labels });
  return loadBundle(bundle);
}

describe('imported ONNX models', () => {
  it('records the signature and where the file came from', () => {
    const onnx = identityModel('INT32');
    const { manifest } = packageImportedModel(onnx, { fileSha256: sha256(onnx), fileName: 'm.onnx' });
    expect(manifest.framework).toBe('onnx');
    expect(manifest.kind).toBe('imported');
    expect(manifest.signature).toEqual({
      inputs: [{ name: 'x', datatype: 'INT32', shape: [-1, 3] }],
      outputs: [{ name: 'y', datatype: 'INT32', shape: [-1, 3] }],
    });
    expect(manifest.origin).toMatchObject({ source: 'imported', fileSha256: sha256(onnx), producerName: 'test', producerVersion: '1' });
    expect(manifest.origin?.opsets).toEqual([{ domain: '', version: 13 }]);
  });

  const cases: Array<[Parameters<typeof datatypeToOnnxElementType>[0], unknown[]]> = [
    ['FP32', [0.5, -1.25, 3]],
    ['FP64', [1e-300, -2.5, 7]],
    ['FP16', [0.5, -2, 65504]],
    ['INT8', [-128, 0, 127]],
    ['INT16', [-32768, 1, 32767]],
    ['INT32', [-2147483648, 5, 2147483647]],
    ['INT64', [-(2 ** 53) + 1, 0, 2 ** 53 - 1]],
    ['UINT8', [0, 128, 255]],
    ['UINT16', [0, 1, 65535]],
    ['UINT32', [0, 1, 4294967295]],
    ['UINT64', [0, 1, 2 ** 53 - 1]],
    ['BOOL', [true, false, true]],
    ['BYTES', ['a', '', 'ünïcode']],
  ];
  it.each(cases)('passes %s tensors through ONNX Runtime both ways', async (datatype, values) => {
    const predictor = await imported(identityModel(datatype));
    const [y] = await predictor.predict([{ name: 'x', shape: [1, 3], datatype, data: values as never }]);
    expect(y).toEqual({ name: 'y', shape: [1, 3], datatype, data: values });
    predictor.dispose();
  });

  it('refuses a wrong datatype, shape, name or value, naming the input and what it expects', async () => {
    const predictor = await imported(identityModel('INT8'));
    const refusal = (inputs: Parameters<typeof predictor.predict>[0]) =>
      predictor.predict(inputs).then(
        () => 'accepted',
        (error: unknown) => (isMlInputError(error) ? error.message : `not an input error: ${String(error)}`),
      );
    expect(await refusal([{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }])).toMatch(/"x" must have datatype INT8/);
    expect(await refusal([{ name: 'x', shape: [1, 4], datatype: 'INT8', data: [1, 2, 3, 4] }])).toMatch(/"x" must have shape \[-1, 3\]/);
    expect(await refusal([{ name: 'z', shape: [1, 3], datatype: 'INT8', data: [1, 2, 3] }])).toMatch(/"x" \(INT8 \[-1, 3\]\) is missing/);
    expect(await refusal([{ name: 'x', shape: [1, 3], datatype: 'INT8', data: [1, 2, 300] }])).toMatch(/value 2 .* fits INT8/);
    expect(await refusal([{ name: 'x', shape: [1, 3], datatype: 'INT8', data: [1, 2] }])).toMatch(/3 values\) but 2 data values/);
    const floats = await imported(identityModel('FP32'));
    await expect(floats.predict([{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, Number.NaN, 3] }])).rejects.toThrow(
      /value 1 .* not a finite number/,
    );
    await expect(floats.predict([{ name: 'x', shape: [1, 3], datatype: 'FP32', data: Float32Array.of(1, Infinity, 3) }])).rejects.toThrow(
      MlInputError,
    );
    predictor.dispose();
    floats.dispose();
  });

  it('answers any batch size on a dynamic first dimension, and typed arrays as JSON arrays', async () => {
    const predictor = await imported(identityModel('FP32', 2));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), { minLength: 2, maxLength: 80 }), async (values) => {
        const rows = Math.floor(values.length / 2);
        const data = Float32Array.from(values.slice(0, rows * 2));
        const [y] = await predictor.predict([{ name: 'x', shape: [rows, 2], datatype: 'FP32', data }]);
        expect(y?.shape).toEqual([rows, 2]);
        expect(y?.data).toEqual(Array.from(data));
      }),
      { numRuns: 40 },
    );
    predictor.dispose();
  });

  it('adds the predicted class name beside the scores when imported with labels', async () => {
    const predictor = await imported(classifierModel(), ['cat', 'dog', 'bird']);
    expect(predictor.signature.outputs.map((o) => `${o.name}:${o.datatype}`)).toEqual(['probabilities:FP32', 'label:BYTES']);
    const outputs = await predictor.predict([{ name: 'x', shape: [2, 3], datatype: 'FP32', data: [0, 5, 1, 9, 0, 0] }]);
    expect(outputs[1]).toEqual({ name: 'label', shape: [2], datatype: 'BYTES', data: ['dog', 'cat'] });
    predictor.dispose();
  });

  it('refuses labels that fit no output', () => {
    const onnx = classifierModel();
    expect(() => packageImportedModel(onnx, { fileSha256: sha256(onnx), labels: ['a', 'b'] })).toThrow(
      /2 labels were given, but no output has 2 float scores per row.*probabilities FP32 \[-1, 3\]/,
    );
  });
});

describe('half floats', () => {
  it('round-trips every half value that is a number', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const value = fromHalfBits(bits);
      if (Number.isNaN(value)) continue;
      const back = toHalfBits(value);
      // +0 and -0 are both zero.
      if (value === 0) expect(back & 0x7fff).toBe(0);
      else expect(back).toBe(bits);
    }
  });

  it('rounds to the nearest half', () => {
    expect(fromHalfBits(toHalfBits(0.1))).toBeCloseTo(0.1, 3);
    expect(fromHalfBits(toHalfBits(1e6))).toBe(Number.POSITIVE_INFINITY);
    expect(fromHalfBits(toHalfBits(1e-9))).toBe(0);
  });
});
