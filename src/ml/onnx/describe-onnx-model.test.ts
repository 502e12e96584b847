import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { MlInputError } from '../errors.js';
import { describeOnnxModel, SUPPORTED_ONNX_OPSETS } from './describe-onnx-model.js';
import { floatTensorProto, graphProto, modelProto, nodeProto, tensorValueInfo } from './onnx-builders.js';
import { datatypeToOnnxElementType } from './onnx-schema.js';
import { ProtoWriter } from './protobuf-wire.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const pytorchModel = new Uint8Array(fs.readFileSync(path.join(FIXTURES, 'tiny-mlp.onnx')));
const pytorchExpected = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'tiny-mlp.expected.json'), 'utf8')) as {
  input: number[][];
  output: number[][];
};

const FLOAT = 1;

/** A one-node (Relu) model; the options break one thing at a time. */
function model(
  options: {
    opset?: number;
    irVersion?: number;
    input?: ProtoWriter;
    initializers?: ProtoWriter[];
    nodes?: ProtoWriter[];
    opsets?: { domain: string; version: number }[];
  } = {},
): Uint8Array {
  const graph = graphProto({
    name: 'g',
    nodes: options.nodes ?? [nodeProto('Relu', ['x'], ['y'], 'relu')],
    initializers: options.initializers ?? [],
    inputs: [options.input ?? tensorValueInfo('x', FLOAT, ['batch', null, 3])],
    outputs: [tensorValueInfo('y', FLOAT, ['batch', null, 3])],
  });
  return modelProto(
    {
      irVersion: options.irVersion ?? 8,
      opsets: options.opsets ?? [{ domain: '', version: options.opset ?? 13 }],
      producerName: 'test',
      metadata: { author: 'fogline', ['__proto__']: 'kept as data' },
    },
    graph,
  );
}

function problemOf(bytes: Uint8Array): { problem: string; message: string } {
  try {
    describeOnnxModel(bytes);
  } catch (error) {
    if (error instanceof MlInputError) return { problem: error.problem, message: error.message };
    throw error;
  }
  throw new Error('describeOnnxModel accepted the model');
}

/** A graph input whose TypeProto is `type` (field 4: sequence, 5: map) around a float tensor. */
function nonTensorInput(typeField: number): ProtoWriter {
  const innerType = new ProtoWriter().message(1, new ProtoWriter().int(1, FLOAT));
  const wrapper = typeField === 5 ? new ProtoWriter().int(1, 8).message(2, innerType) : new ProtoWriter().message(1, innerType);
  return new ProtoWriter().string(1, 'x').message(2, new ProtoWriter().message(typeField, wrapper));
}

describe('describeOnnxModel', () => {
  it('describes a PyTorch export: producer, opset, dynamic batch, and the weights it lists as inputs left out', () => {
    const d = describeOnnxModel(pytorchModel);
    expect(d).toMatchObject({ irVersion: 7, producerName: 'pytorch', producerVersion: '1.13.0', opsets: [{ domain: '', version: 13 }] });
    expect(d.inputs).toEqual([{ name: 'features', datatype: 'FP32', shape: [-1, 4], dimNames: ['batch', null] }]);
    expect(d.outputs).toEqual([{ name: 'probabilities', datatype: 'FP32', shape: [-1, 3], dimNames: ['batch', null] }]);
    expect(d.operators).toEqual(['Gemm', 'Relu', 'Softmax']);
  });

  it('describes a model that onnxruntime-node runs to the outputs PyTorch computed', async () => {
    const session = await ort.InferenceSession.create(pytorchModel, { logSeverityLevel: 3 });
    const input = new ort.Tensor('float32', Float32Array.from(pytorchExpected.input.flat()), [2, 4]);
    const result = await session.run({ features: input });
    const got = Array.from(result.probabilities!.data as Float32Array);
    pytorchExpected.output.flat().forEach((v, i) => expect(got[i]).toBeCloseTo(v, 6));
    await session.release();
  });

  it('reads metadata, unnamed dynamic dimensions and custom-domain operators', () => {
    const d = describeOnnxModel(
      model({
        nodes: [
          nodeProto('Relu', ['x'], ['r'], 'relu'),
          new ProtoWriter().string(1, 'r').string(2, 'y').string(4, 'Fused').string(7, 'com.microsoft'),
        ],
        opsets: [
          { domain: '', version: 17 },
          { domain: 'com.microsoft', version: 1 },
        ],
      }),
    );
    expect(d.operators).toEqual(['Relu', 'com.microsoft:Fused']);
    expect(d.inputs[0]).toEqual({ name: 'x', datatype: 'FP32', shape: [-1, -1, 3], dimNames: ['batch', null, null] });
    expect(d.metadata).toEqual({ author: 'fogline', ['__proto__']: 'kept as data' });
    expect(Object.getPrototypeOf(d.metadata)).toBe(Object.prototype);
  });

  it('lists operators inside subgraphs (If branches)', () => {
    const branch = graphProto({
      name: 'then',
      nodes: [nodeProto('Sigmoid', ['x'], ['s'], 'sig')],
      initializers: [],
      inputs: [],
      outputs: [],
    });
    const ifNode = nodeProto('If', ['cond'], ['y'], 'if').message(
      5,
      new ProtoWriter().string(1, 'then_branch').message(6, branch).int(20, 5),
    );
    expect(describeOnnxModel(model({ nodes: [ifNode] })).operators).toEqual(['If', 'Sigmoid']);
  });

  it('refuses sequence and map inputs, saying only tensors are served', () => {
    expect(problemOf(model({ input: nonTensorInput(4) }))).toMatchObject({
      problem: 'onnx-unsupported',
      message: expect.stringMatching(/"x" is a sequence.*dense tensors/),
    });
    expect(problemOf(model({ input: nonTensorInput(5) }))).toMatchObject({
      problem: 'onnx-unsupported',
      message: expect.stringMatching(/is a map/),
    });
  });

  it('gives every tensor element type the Open Inference Protocol has its datatype', () => {
    const datatypes = [
      'FP32',
      'FP64',
      'FP16',
      'BF16',
      'INT8',
      'INT16',
      'INT32',
      'INT64',
      'UINT8',
      'UINT16',
      'UINT32',
      'UINT64',
      'BOOL',
      'BYTES',
    ] as const;
    for (const datatype of datatypes) {
      const elementType = datatypeToOnnxElementType(datatype);
      expect(describeOnnxModel(model({ input: tensorValueInfo('x', elementType, [2]) })).inputs[0]!.datatype).toBe(datatype);
    }
    expect(datatypeToOnnxElementType('FP32')).toBe(1);
    expect(datatypeToOnnxElementType('BYTES')).toBe(8);
  });

  it('refuses element types without an Open Inference Protocol datatype, naming the type', () => {
    expect(problemOf(model({ input: tensorValueInfo('x', 14, [2]) }))).toMatchObject({
      problem: 'onnx-unsupported',
      message: expect.stringMatching(/"x" holds COMPLEX64/),
    });
    expect(problemOf(model({ input: tensorValueInfo('x', 17, [2]) })).message).toMatch(/FLOAT8E4M3FN/);
  });

  it(`refuses opsets the runtime cannot run (it runs ${SUPPORTED_ONNX_OPSETS.min}–${SUPPORTED_ONNX_OPSETS.max}) and IR versions past 13`, async () => {
    expect(describeOnnxModel(model({ opset: 26, irVersion: 10 })).opsets).toEqual([{ domain: '', version: 26 }]);
    expect(problemOf(model({ opset: 27 }))).toMatchObject({
      problem: 'onnx-unsupported',
      message: expect.stringMatching(/opset 27.*opset_version=26/),
    });
    expect(problemOf(model({ opset: 6 }))).toMatchObject({
      problem: 'onnx-unsupported',
      message: expect.stringMatching(/opset 6, older than 7/),
    });
    expect(problemOf(model({ irVersion: 14 }))).toMatchObject({
      problem: 'onnx-unsupported',
      message: expect.stringMatching(/IR version 14/),
    });
    expect(problemOf(model({ opsets: [] }))).toMatchObject({
      problem: 'onnx-invalid',
      message: expect.stringMatching(/imports no ai.onnx opset/),
    });
    // The limits are the runtime's own: it loads opset 26 and refuses 27.
    await expect(ort.InferenceSession.create(model({ opset: 26, irVersion: 10 }))).resolves.toBeDefined();
    await expect(ort.InferenceSession.create(model({ opset: 27, irVersion: 10 }))).rejects.toThrow(/opset 27/i);
  });

  it('refuses weights kept in an external data file', () => {
    const external = floatTensorProto('w', [1], [0])
      .int(14, 1)
      .message(13, new ProtoWriter().string(1, 'location').string(2, 'weights.bin'));
    expect(problemOf(model({ initializers: [external] }))).toMatchObject({
      problem: 'onnx-unsupported',
      message: expect.stringMatching(/"w" keeps its data in a separate file.*self-contained/),
    });
  });

  it('leaves out inputs that are initializers but keeps the others', () => {
    const weightInput = tensorValueInfo('w', FLOAT, [1]);
    const bytes = modelProto(
      { irVersion: 7, opsets: [{ domain: '', version: 13 }], producerName: 'old' },
      graphProto({
        name: 'g',
        nodes: [nodeProto('Add', ['x', 'w'], ['y'], 'add')],
        initializers: [floatTensorProto('w', [1], [1])],
        inputs: [tensorValueInfo('x', FLOAT, [1]), weightInput],
        outputs: [tensorValueInfo('y', FLOAT, [1])],
      }),
    );
    expect(describeOnnxModel(bytes).inputs.map((i) => i.name)).toEqual(['x']);
  });

  it('tells a cut-short file from one that is not ONNX at all', () => {
    expect(problemOf(pytorchModel.subarray(0, 500))).toMatchObject({
      problem: 'onnx-truncated',
      message: expect.stringMatching(/cut short/),
    });
    expect(problemOf(new Uint8Array())).toMatchObject({ problem: 'onnx-invalid', message: expect.stringMatching(/empty/) });
    const zip = new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0x14, 0, 0, 0, 8, 0]);
    expect(problemOf(zip)).toMatchObject({ problem: 'onnx-invalid', message: expect.stringMatching(/zip archive/) });
    expect(problemOf(new TextEncoder().encode('{"modelTopology": {}}'))).toMatchObject({
      problem: 'onnx-invalid',
      message: expect.stringMatching(/JSON/),
    });
    const noGraph = new ProtoWriter().int(1, 8).string(2, 'x').finish();
    expect(problemOf(noGraph)).toMatchObject({ problem: 'onnx-invalid', message: expect.stringMatching(/no graph/) });
  });

  describe('untrusted bytes', () => {
    /** Either a description or an MlInputError; anything else (RangeError, TypeError…) fails the property. */
    function describesOrRefuses(bytes: Uint8Array): boolean {
      try {
        describeOnnxModel(bytes);
      } catch (error) {
        if (!(error instanceof MlInputError)) throw error;
      }
      return true;
    }

    it('random bytes', () => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), describesOrRefuses), { numRuns: 2000 });
    });

    it('every truncated prefix of a real model', () => {
      for (let n = 0; n < pytorchModel.length; n++) expect(describesOrRefuses(pytorchModel.subarray(0, n))).toBe(true);
    });

    it('flipped and overwritten bytes of a real model', () => {
      const edits = fc.array(fc.tuple(fc.nat(pytorchModel.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 });
      fc.assert(
        fc.property(edits, (changes) => {
          const bytes = pytorchModel.slice();
          for (const [at, value] of changes) bytes[at] = value;
          return describesOrRefuses(bytes);
        }),
        { numRuns: 3000 },
      );
    });
  });
});
