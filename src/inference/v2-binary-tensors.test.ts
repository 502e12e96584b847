import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MlInputError } from '../ml/errors.js';
import { BINARY_DATATYPES, decodeTensorData, encodeTensorData, floatToHalf, halfToFloat, withJsonForm } from './v2-binary-tensors.js';

/** Values each datatype can carry exactly, and what decoding them gives back. */
const VALUES: Record<string, fc.Arbitrary<unknown[]>> = {
  FP32: fc.array(fc.float({ noNaN: true })),
  FP64: fc.array(fc.double({ noNaN: true })),
  // Numbers a half can hold exactly: every finite half pattern, decoded.
  FP16: fc.array(
    fc
      .integer({ min: 0, max: 0xffff })
      .filter((h) => (h & 0x7c00) !== 0x7c00)
      .map(halfToFloat),
  ),
  INT8: fc.array(fc.integer({ min: -128, max: 127 })),
  INT16: fc.array(fc.integer({ min: -32768, max: 32767 })),
  INT32: fc.array(fc.integer()),
  INT64: fc.array(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })),
  UINT8: fc.array(fc.integer({ min: 0, max: 255 })),
  UINT16: fc.array(fc.integer({ min: 0, max: 65535 })),
  UINT32: fc.array(fc.integer({ min: 0, max: 2 ** 32 - 1 })),
  UINT64: fc.array(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
  BOOL: fc.array(fc.boolean()),
  BYTES: fc.array(fc.string({ unit: 'grapheme', maxLength: 30 })),
};

describe('binary tensor data: every datatype', () => {
  it('has a round trip case for every datatype it claims', () => {
    expect(Object.keys(VALUES).sort()).toEqual([...BINARY_DATATYPES].sort());
  });

  for (const [datatype, values] of Object.entries(VALUES)) {
    it(`${datatype}: decode(encode(values)) gives the same values back`, () => {
      fc.assert(
        fc.property(values, (data) => {
          const bytes = encodeTensorData(datatype, data, 'Input "x"');
          const decoded = decodeTensorData(datatype, bytes, data.length, 'Input "x"');
          const expected = datatype === 'BOOL' ? data.map((b) => (b ? 1 : 0)) : data;
          expect(Array.from(decoded as ArrayLike<unknown>)).toEqual(expected);
        }),
      );
    });
  }

  it('decodes little-endian bytes as Triton and numpy lay them out', () => {
    const bytes = (...b: number[]) => Uint8Array.from(b);
    expect(decodeTensorData('FP32', bytes(0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0), 2, 'x')).toEqual(Float32Array.of(1, -2));
    expect(decodeTensorData('INT16', bytes(0xff, 0xff, 0x02, 0x01), 2, 'x')).toEqual(Int16Array.of(-1, 0x0102));
    expect(decodeTensorData('UINT64', bytes(1, 0, 0, 0, 0, 0, 0, 0x80), 1, 'x')).toEqual(BigUint64Array.of(2n ** 63n + 1n));
    expect(decodeTensorData('FP16', bytes(0x00, 0x3c, 0xff, 0x7b), 2, 'x')).toEqual(Float32Array.of(1, 65504));
    expect(decodeTensorData('BYTES', bytes(2, 0, 0, 0, 0x68, 0x69, 0, 0, 0, 0), 2, 'x')).toEqual(['hi', '']);
  });

  it('encodes a typed array already in wire layout as a view of it, not a copy', () => {
    const data = Float32Array.of(1, 2, 3);
    const bytes = encodeTensorData('FP32', data, 'x');
    expect(bytes.buffer).toBe(data.buffer);
    expect(bytes.byteLength).toBe(12);
  });

  it('encodes plain numbers into INT64 and nested rows flat', () => {
    const bytes = encodeTensorData('INT64', [[1, 2], [3]], 'x');
    expect(decodeTensorData('INT64', bytes, 3, 'x')).toEqual(BigInt64Array.of(1n, 2n, 3n));
  });
});

describe('FP16', () => {
  it('every half (but NaN) survives half → number → half', () => {
    const changed: number[] = [];
    for (let half = 0; half <= 0xffff; half++) {
      if ((half & 0x7c00) === 0x7c00 && half & 0x3ff) continue;
      if (floatToHalf(halfToFloat(half)) !== half) changed.push(half);
    }
    expect(changed).toEqual([]);
  });

  it('rounds to nearest even, overflows to Infinity and keeps NaN a NaN', () => {
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00); // a tie: down to the even 1.0
    expect(floatToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02); // a tie: up to the even neighbour
    expect(floatToHalf(65520)).toBe(0x7c00);
    expect(floatToHalf(2 ** -25)).toBe(0); // half the smallest subnormal: a tie, to even (0)
    expect(floatToHalf(2 ** -24)).toBe(1);
    expect(floatToHalf(-0)).toBe(0x8000);
    expect(Number.isNaN(halfToFloat(floatToHalf(Number.NaN)))).toBe(true);
  });
});

describe('binary tensor data: hostile bytes', () => {
  const refuses = (datatype: string, bytes: number[], count: number, message: RegExp) =>
    expect(() => decodeTensorData(datatype, Uint8Array.from(bytes), count, 'Input "x"')).toThrow(message);

  it('refuses a length that is not count × element size, naming the input and the size it needs', () => {
    refuses('FP32', [0, 0, 0], 1, /Input "x" needs 4 bytes .* it has 3/);
    refuses('INT64', new Array(16).fill(0), 1, /needs 8 bytes/);
  });

  it('refuses BOOL bytes other than 0 and 1', () => {
    refuses('BOOL', [0, 1, 2], 3, /element 2 is the byte 2, not 0 or 1/);
  });

  it('refuses BYTES elements that are cut off, too many, too few, or not UTF-8', () => {
    refuses('BYTES', [1, 0], 1, /cut-off length prefix/);
    refuses('BYTES', [9, 0, 0, 0, 1, 2], 1, /says 9 bytes, but only 2 remain/);
    refuses('BYTES', [0, 0, 0, 0, 0, 0, 0, 0], 1, /follow the last one/);
    refuses('BYTES', [0, 0, 0, 0], 2, /2 element\(s\) by its shape but its binary data holds 1/);
    refuses('BYTES', [2, 0, 0, 0, 0xc3, 0x28], 1, /not UTF-8/);
  });

  it('refuses datatypes it cannot carry', () => {
    refuses('BF16', [0, 0], 1, /datatype BF16, which binary data cannot carry/);
    refuses('toString', [], 0, /cannot carry/);
  });

  it('answers any bytes, datatype and count with values or an MlInputError, never anything else', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...BINARY_DATATYPES, 'FP8', '__proto__'),
        fc.uint8Array({ maxLength: 64 }),
        fc.nat({ max: 20 }),
        (datatype, bytes, count) => {
          try {
            const decoded = decodeTensorData(datatype, bytes, count, 'Input "x"');
            expect(decoded.length).toBe(count);
          } catch (error) {
            expect(error).toBeInstanceOf(MlInputError);
          }
        },
      ),
    );
  });
});

describe('withJsonForm', () => {
  it('serialises decoded data as the JSON a V2 server expects: numbers, booleans for BOOL', () => {
    expect(JSON.stringify({ data: withJsonForm(BigInt64Array.of(1n, -2n), 'INT64') })).toBe('{"data":[1,-2]}');
    expect(JSON.stringify(withJsonForm(Float32Array.of(0.5), 'FP32'))).toBe('[0.5]');
    expect(JSON.stringify(withJsonForm(Uint8Array.of(1, 0), 'BOOL'))).toBe('[true,false]');
  });
});
