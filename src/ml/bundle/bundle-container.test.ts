import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MlInputError } from '../errors.js';
import { decodeContainer, encodeContainer } from './bundle-container.js';
import { canonicalJson } from './canonical-json.js';

const files = [
  { name: 'model.json', bytes: new TextEncoder().encode('{"layers":[]}') },
  { name: 'weights.bin', bytes: Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) % 256) },
];
const manifest = { kind: 'forecaster', metrics: { mape: 4.2 }, signature: { inputs: [], outputs: [] } };

const problemOf = (bytes: Uint8Array): string => {
  try {
    decodeContainer(bytes);
  } catch (error) {
    if (error instanceof MlInputError) return error.problem;
    throw error;
  }
  return 'accepted';
};

describe('bundle container', () => {
  it('round-trips the manifest and files, and lists each file with size and sha256', () => {
    const { manifest: back, files: out } = decodeContainer(encodeContainer(manifest, files));
    expect(back).toMatchObject(manifest);
    expect(back.files.map((f) => [f.name, f.size])).toEqual([
      ['model.json', 13],
      ['weights.bin', 1000],
    ]);
    expect(back.files[1]!.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(out.get('weights.bin')).toEqual(files[1]!.bytes);
  });

  it('is byte-deterministic: key order and object identity do not matter', () => {
    const reordered = { signature: { outputs: [], inputs: [] }, metrics: { mape: 4.2 }, kind: 'forecaster' };
    expect(encodeContainer(reordered, files)).toEqual(encodeContainer(manifest, files));
  });

  it('reads a bundle that sits inside a larger buffer (a Node Buffer from a file)', () => {
    const bytes = encodeContainer(manifest, files);
    const padded = new Uint8Array(bytes.length + 10);
    padded.set(bytes, 5);
    expect(decodeContainer(padded.subarray(5, 5 + bytes.length)).manifest.kind).toBe('forecaster');
  });

  it('refuses every truncation as truncated', () => {
    const bytes = encodeContainer(manifest, files);
    for (const length of [0, 10, 20, 100, bytes.length - 33, bytes.length - 1]) {
      expect(problemOf(bytes.subarray(0, length)), `length ${length}`).toBe('bundle-truncated');
    }
  });

  it('refuses any single flipped bit', () => {
    const bytes = encodeContainer(manifest, files);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: bytes.length - 1 }), fc.integer({ min: 0, max: 7 }), (at, bit) => {
        const damaged = bytes.slice();
        damaged[at]! ^= 1 << bit;
        expect(['bundle-corrupt', 'bundle-truncated', 'bundle-unsupported']).toContain(problemOf(damaged));
      }),
      { numRuns: 300 },
    );
  });

  it('names foreign files and newer formats', () => {
    expect(problemOf(new TextEncoder().encode('PK\u0003\u0004 this is a zip file, not a bundle at all....'))).toBe('bundle-corrupt');
    const newer = encodeContainer(manifest, files);
    new DataView(newer.buffer).setUint32(8, 2, true);
    expect(problemOf(newer)).toBe('bundle-unsupported');
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every level and refuses values JSON cannot hold', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { f: 1, e: 2 }], c: null }, u: undefined })).toBe(
      '{"a":{"c":null,"d":[3,{"e":2,"f":1}]},"b":1}',
    );
    expect(() => canonicalJson({ x: Number.NaN })).toThrow(/\$\.x is NaN/);
    expect(() => canonicalJson({ x: new Float32Array(2) })).toThrow(/typed array/);
  });
});
