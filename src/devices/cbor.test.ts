import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCbor } from './cbor.js';
import { DeviceMessageError } from './device-reading.js';
import { decodeEdgexMessage } from './edgex-codec.js';

const hex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text.replace(/\s/g, ''), 'hex'));

/** Just enough of a CBOR writer for the tests: what Go's fxamacker/cbor writes for an EdgeX event. */
function cbor(value: unknown): number[] {
  const head = (major: number, n: number | bigint): number[] => {
    const big = BigInt(n);
    if (big < 24n) return [(major << 5) | Number(big)];
    const size = big < 0x100n ? 1 : big < 0x10000n ? 2 : big < 0x100000000n ? 4 : 8;
    const out = [(major << 5) | { 1: 24, 2: 25, 4: 26, 8: 27 }[size]!];
    for (let i = size - 1; i >= 0; i--) out.push(Number((big >> BigInt(8 * i)) & 0xffn));
    return out;
  };
  if (typeof value === 'bigint') return value >= 0n ? head(0, value) : head(1, -1n - value);
  if (typeof value === 'number' && Number.isInteger(value)) return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === 'number') return [0xfb, ...new Uint8Array(new Float64Array([value]).buffer).reverse()];
  if (typeof value === 'boolean') return [value ? 0xf5 : 0xf4];
  if (value === null) return [0xf6];
  if (typeof value === 'string') {
    const bytes = new TextEncoder().encode(value);
    return [...head(3, bytes.length), ...bytes];
  }
  if (value instanceof Uint8Array) return [...head(2, value.length), ...value];
  if (Array.isArray(value)) return [...head(4, value.length), ...value.flatMap(cbor)];
  const entries = Object.entries(value as Record<string, unknown>);
  return [...head(5, entries.length), ...entries.flatMap(([k, v]) => [...cbor(k), ...cbor(v)])];
}

describe('decodeCbor', () => {
  it('reads the examples of RFC 8949, appendix A', () => {
    expect(decodeCbor(hex('a2 61 61 01 61 62 82 02 03'))).toEqual({ a: 1, b: [2, 3] });
    expect(decodeCbor(hex('f9 3c 00'))).toBe(1);
    expect(decodeCbor(hex('f9 c4 00'))).toBe(-4);
    expect(decodeCbor(hex('fa 47 c3 50 00'))).toBe(100000);
    expect(decodeCbor(hex('fb 3f f1 99 99 99 99 99 9a'))).toBe(1.1);
    expect(decodeCbor(hex('1b ff ff ff ff ff ff ff ff'))).toBe('18446744073709551615');
    expect(decodeCbor(hex('3b ff ff ff ff ff ff ff ff'))).toBe('-18446744073709551616');
    expect(decodeCbor(hex('1b 00 00 00 02 54 0b e3 ff'))).toBe(9999999999);
    expect(decodeCbor(hex('5f 42 01 02 43 03 04 05 ff'))).toEqual(new Uint8Array([1, 2, 3, 4, 5]));
    expect(decodeCbor(hex('7f 65 73 74 72 65 61 64 6d 69 6e 67 ff'))).toBe('streaming');
    expect(decodeCbor(hex('bf 63 46 75 6e f5 63 41 6d 74 21 ff'))).toEqual({ Fun: true, Amt: -2 });
    expect(decodeCbor(hex('9f 01 82 02 03 9f 04 05 ff ff'))).toEqual([1, [2, 3], [4, 5]]);
    expect(decodeCbor(hex('c1 1a 51 4b 67 b0'))).toBe(1363896240); // a tag: its content
  });

  it('refuses truncated, trailing, oversized and deeply nested input with malformed-cbor', () => {
    for (const bad of ['a2 61 61 01', '01 02', '5a ff ff ff ff', '7f 01 ff', 'ff', '1c', '9f'.repeat(100)]) {
      let error: unknown;
      try {
        decodeCbor(hex(bad));
      } catch (e) {
        error = e;
      }
      expect([bad.slice(0, 12), error instanceof DeviceMessageError && error.reason]).toEqual([bad.slice(0, 12), 'malformed-cbor']);
    }
  });

  it('throws nothing but DeviceMessageError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decodeCbor(bytes);
        } catch (error) {
          if (!(error instanceof DeviceMessageError)) throw error;
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('EdgeX events as CBOR', () => {
  // EdgeX's device SDK sends an event with a Binary reading as CBOR: binaryValue a byte string, origin a 64-bit integer.
  const event = {
    apiVersion: 'v3',
    id: '6b0a6a3c-2f5a-4c39-9a3e-1f6f2b1d9f10',
    deviceName: 'camera-3',
    profileName: 'camera',
    sourceName: 'frame',
    origin: 1733560000123456789n,
    readings: [
      {
        id: 'b3c6e1d2-1111-4d7e-8a2b-1234567890ab',
        origin: 1733560000123456789n,
        deviceName: 'camera-3',
        resourceName: 'frame',
        profileName: 'camera',
        valueType: 'Binary',
        binaryValue: new Uint8Array([0, 16, 255]),
        mediaType: 'image/x-raw',
      },
    ],
  };

  it('reads a bare CBOR event and one in a MessageEnvelope with contentType application/cbor', () => {
    const bytes = new Uint8Array(cbor(event));
    const expected = [
      { device: 'camera-3', resource: 'frame', time: expect.closeTo(1733560000.123457, 6), values: [0, 16, 255], mediaType: 'image/x-raw' },
    ];
    expect(decodeEdgexMessage(bytes)).toEqual(expected);
    const envelope = { apiVersion: 'v3', errorCode: 0, contentType: 'application/cbor', payload: Buffer.from(bytes).toString('base64') };
    expect(decodeEdgexMessage(new TextEncoder().encode(JSON.stringify(envelope)))).toEqual(expected);
  });
});
