import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { V2InferResponse } from '../contracts/open-inference.js';
import { MlInputError } from '../ml/errors.js';
import {
  binaryOutputChoice,
  decodeBinaryResponse,
  decodeBinaryTensors,
  encodeBinaryRequest,
  encodeBinaryResponse,
  parseHeaderLength,
  splitBinaryBody,
} from './v2-binary.js';

/** A binary body as a client would build it by hand: JSON header, then the raw bytes. */
function body(header: unknown, ...chunks: number[][]): { json: unknown; binary: Uint8Array } {
  return { json: header, binary: Uint8Array.from(chunks.flat()) };
}

const input = (name: string, datatype: string, shape: unknown, size: unknown) => ({
  name,
  datatype,
  shape,
  parameters: { binary_data_size: size },
});

describe('Inference-Header-Content-Length', () => {
  it('takes a whole number of bytes no larger than the body', () => {
    expect(parseHeaderLength('12', 20)).toBe(12);
    expect(parseHeaderLength('20', 20)).toBe(20);
  });

  it('refuses one that is missing, negative, not a number, repeated, or beyond the body', () => {
    expect(() => parseHeaderLength(undefined, 20)).toThrow(/needs the Inference-Header-Content-Length header/);
    expect(() => parseHeaderLength('-1', 20)).toThrow(/non-negative whole number/);
    expect(() => parseHeaderLength('1e3', 20)).toThrow(/non-negative whole number/);
    expect(() => parseHeaderLength(['1', '2'], 20)).toThrow(/non-negative whole number/);
    expect(() => parseHeaderLength('21', 20)).toThrow(/takes 21 bytes, but the whole body has 20/);
  });
});

describe('decodeBinaryTensors (the inputs of a request)', () => {
  it('gives each binary input its bytes in order and leaves JSON inputs alone', () => {
    const { json, binary } = body(
      [input('a', 'UINT32', [2, 2], 16), { name: 'j', datatype: 'FP32', shape: [1], data: [5] }, input('b', 'BOOL', [3], 3)],
      [1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0],
      [1, 0, 1],
    );
    const decoded = decodeBinaryTensors(json, binary, 'Input');
    expect([...decoded.keys()]).toEqual([0, 2]);
    expect(decoded.get(0)).toEqual(Uint32Array.of(1, 2, 3, 4));
    expect(decoded.get(2)).toEqual(Uint8Array.of(1, 0, 1));
  });

  it('names the input and the size its shape needs when binary_data_size disagrees', () => {
    const { json, binary } = body([input('history', 'FP32', [1, 3], 8)], new Array(8).fill(0));
    expect(() => decodeBinaryTensors(json, binary, 'Input')).toThrow(
      'Input "history" (FP32, shape [1,3]) needs binary_data_size 12 (3 value(s) × 4 byte(s)); it says 8.',
    );
  });

  it('refuses sizes that do not add up to the bytes after the header, either way', () => {
    const short = body([input('a', 'FP32', [2], 8)], [0, 0, 0, 0]);
    expect(() => decodeBinaryTensors(short.json, short.binary, 'Input')).toThrow(
      "The body has 4 bytes of binary data after its JSON, but the inputs' binary_data_size add up to 8.",
    );
    const long = body([input('a', 'FP32', [1], 4)], [0, 0, 0, 0, 9]);
    expect(() => decodeBinaryTensors(long.json, long.binary, 'Input')).toThrow(/5 bytes of binary data .* add up to 4/);
    expect(() => decodeBinaryTensors(null, Uint8Array.of(1), 'Input')).toThrow(/1 bytes of binary data but no inputs/);
  });

  it('refuses an input with both data and binary data, a bad size, a bad shape or a datatype binary cannot carry', () => {
    const refuses = (tensor: unknown, message: RegExp) =>
      expect(() => decodeBinaryTensors([tensor], new Uint8Array(4), 'Input')).toThrow(message);
    refuses({ ...input('a', 'FP32', [1], 4), data: [1] }, /Input "a" has both "data" and binary_data_size/);
    refuses(input('a', 'FP32', [1], -4), /binary_data_size -4; it must be a whole number/);
    refuses(input('a', 'FP32', [1], '4'), /binary_data_size "4"/);
    refuses(input('a', 'FP32', [-1], 4), /shape \[-1\]; it must be a list of whole numbers/);
    refuses(input('a', 'FP32', 'x', 4), /shape "x"/);
    refuses(input('a', 'BF16', [2], 4), /datatype "BF16", which binary data cannot carry/);
    refuses(input('a', 'BYTES', [2], 4), /BYTES with 2 element\(s\) by its shape but its binary data holds 1/);
  });

  it('answers garbage with decoded data or a MlInputError, never anything else', () => {
    const tensor = fc.record(
      {
        name: fc.string({ maxLength: 5 }),
        datatype: fc.oneof(fc.constantFrom('FP32', 'INT64', 'BOOL', 'BYTES', 'FP16', 'UINT8'), fc.string({ maxLength: 4 })),
        shape: fc.oneof(fc.array(fc.integer({ min: -1, max: 6 }), { maxLength: 3 }), fc.anything()),
        data: fc.anything(),
        parameters: fc.oneof(fc.record({ binary_data_size: fc.oneof(fc.integer({ min: -2, max: 40 }), fc.anything()) }), fc.anything()),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(fc.array(tensor, { maxLength: 3 }), fc.anything()), fc.uint8Array({ maxLength: 48 }), (tensors, binary) => {
        try {
          decodeBinaryTensors(tensors, binary, 'Input');
        } catch (error) {
          expect(error).toBeInstanceOf(MlInputError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('encodeBinaryRequest', () => {
  it('sends every input as bytes and asks for binary outputs, in the layout Triton documents', () => {
    const { body: bytes, headerLength } = encodeBinaryRequest(
      {
        id: 'r1',
        inputs: [
          { name: 'input0', shape: [2, 2], datatype: 'UINT32', data: [1, 2, 3, 4] },
          { name: 'input1', shape: [3], datatype: 'BOOL', data: [true, false, true] },
        ],
        outputs: [{ name: 'output0' }],
      },
      { binaryOutputs: true },
    );
    const { json, binary } = splitBinaryBody(bytes, headerLength);
    expect(JSON.parse(json)).toEqual({
      id: 'r1',
      parameters: { binary_data_output: true },
      inputs: [
        { name: 'input0', shape: [2, 2], datatype: 'UINT32', parameters: { binary_data_size: 16 } },
        { name: 'input1', shape: [3], datatype: 'BOOL', parameters: { binary_data_size: 3 } },
      ],
      outputs: [{ name: 'output0', parameters: { binary_data: true } }],
    });
    expect([...binary]).toEqual([1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 1, 0, 1]);
    const decoded = decodeBinaryTensors(JSON.parse(json).inputs, binary, 'Input');
    expect(decoded.get(0)).toEqual(Uint32Array.of(1, 2, 3, 4));
  });
});

describe('binary responses', () => {
  const response: V2InferResponse = {
    model_name: 'm',
    model_version: '2',
    id: 'r1',
    parameters: { 'fogline.ran_on': 'edge' },
    outputs: [
      { name: 'forecast', shape: [1, 3], datatype: 'FP32', data: [0.5, 1.5, -2] },
      { name: 'label', shape: [2], datatype: 'BYTES', data: ['up', 'down'] },
      { name: 'flag', shape: [1], datatype: 'BOOL', data: [true] },
    ],
  };

  it('round-trips through encodeBinaryResponse and decodeBinaryResponse with typed arrays for numbers', () => {
    const encoded = encodeBinaryResponse(response, () => true)!;
    const decoded = decodeBinaryResponse(encoded.body, encoded.headerLength);
    expect(decoded.model_version).toBe('2');
    expect(decoded.parameters).toEqual({ 'fogline.ran_on': 'edge' });
    expect(decoded.outputs[0]).toEqual({
      name: 'forecast',
      shape: [1, 3],
      datatype: 'FP32',
      parameters: { binary_data_size: 12 },
      data: Float32Array.of(0.5, 1.5, -2),
    });
    expect(decoded.outputs[1]!.data).toEqual(['up', 'down']);
    expect(decoded.outputs[2]!.data).toEqual(Uint8Array.of(1));
  });

  it('keeps the outputs not asked for as binary in JSON, and is plain JSON when none is', () => {
    const encoded = encodeBinaryResponse(response, (name) => name === 'label')!;
    const decoded = decodeBinaryResponse(encoded.body, encoded.headerLength);
    expect(decoded.outputs[0]!.data).toEqual([0.5, 1.5, -2]);
    expect(decoded.outputs[0]!.parameters).toBeUndefined();
    expect(decoded.outputs[1]!.parameters).toEqual({ binary_data_size: 14 });
    expect(encodeBinaryResponse(response, () => false)).toBeUndefined();
  });

  it('reads binary_data on an output before the request-wide binary_data_output', () => {
    const choice = binaryOutputChoice({
      parameters: { binary_data_output: true },
      outputs: [{ name: 'a', parameters: { binary_data: false } }, { name: 'b' }],
    });
    expect([choice('a'), choice('b'), choice('c')]).toEqual([false, true, true]);
    expect(binaryOutputChoice({ outputs: [{ name: 'a', parameters: { binary_data: true } }] })('b')).toBe(false);
    expect(() => binaryOutputChoice({ parameters: { binary_data_output: 'yes' } })).toThrow(/binary_data_output must be true or false/);
    expect(() => binaryOutputChoice({ outputs: [{ name: 'a', parameters: { binary_data: 1 } }] })).toThrow(/Output "a" has binary_data 1/);
  });

  it('refuses a response whose header length or sizes do not hold', () => {
    const encoded = encodeBinaryResponse(response, () => true)!;
    expect(() => decodeBinaryResponse(encoded.body, encoded.body.length + 1)).toThrow(/whole body has/);
    expect(() => decodeBinaryResponse(encoded.body.subarray(0, encoded.body.length - 1), encoded.headerLength)).toThrow(/add up to/);
    expect(() => decodeBinaryResponse(encoded.body, encoded.headerLength - 1)).toThrow(/does not parse/);
  });
});
