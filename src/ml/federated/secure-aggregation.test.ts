import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromRing, SecAggClient, shamirCombine, shamirSplit, toRing, unmaskSum } from './secure-aggregation.js';

/** One round with `n` clients; `dropAfterShare` never send their input, `silentAtUnmask` skip the last step. */
function round(inputs: Float64Array[], threshold: number, dropAfterShare: number[] = [], silentAtUnmask: number[] = []) {
  const config = { length: inputs[0]!.length, threshold, scaleBits: 16 };
  const clients = inputs.map((_, i) => new SecAggClient(i + 1, config));
  const roster = clients.map((c) => c.advertise());
  const boxes = clients.flatMap((c) => c.share(roster));
  const sharedWith = clients.map((c) => c.id);
  const senders = clients.filter((c) => !dropAfterShare.includes(c.id));
  const masked = senders.map((c) => c.mask(toRing(inputs[c.id - 1]!, 16), sharedWith));
  const sentInput = masked.map((m) => m.id);
  const responses = senders.filter((c) => !silentAtUnmask.includes(c.id)).map((c) => c.unmask(boxes, sharedWith, sentInput));
  return { masked, sum: () => fromRing(unmaskSum(config, roster, sharedWith, masked, responses), 16) };
}

describe('secure aggregation', () => {
  it('Shamir: any threshold of the shares rebuild the secret', () => {
    const secret = randomBytes(32);
    const shares = shamirSplit(secret, 5, 3);
    expect(Buffer.from(shamirCombine([shares[0]!, shares[2]!, shares[4]!]))).toEqual(secret);
    expect(Buffer.from(shamirCombine([shares[3]!, shares[1]!, shares[0]!]))).toEqual(secret);
    expect(Buffer.from(shamirCombine([shares[0]!, shares[1]!]))).not.toEqual(secret);
  });

  it('recovers the exact sum of the inputs that were sent, also when clients drop after sharing keys', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 3, max: 6 }).chain((n) =>
          fc.tuple(
            fc.array(fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 5, maxLength: 5 }), {
              minLength: n,
              maxLength: n,
            }),
            fc.subarray(
              Array.from({ length: n }, (_, i) => i + 1),
              { maxLength: n - 2 },
            ),
          ),
        ),
        ([rows, dropped]) => {
          const inputs = rows.map((r) => Float64Array.from(r));
          const { sum } = round(inputs, 2, dropped);
          const expected = inputs
            .filter((_, i) => !dropped.includes(i + 1))
            .reduce((acc, r) => acc.map((v, j) => v + r[j]!), new Float64Array(5));
          sum().forEach((v, j) => expect(v).toBeCloseTo(expected[j]!, 3));
        },
      ),
      { numRuns: 15 },
    );
  });

  it('hides each input: a masked vector does not reveal the client values', () => {
    const inputs = Array.from({ length: 4 }, () => new Float64Array(1000).fill(0.5));
    const { masked, sum } = round(inputs, 3);
    const plain = toRing(inputs[0]!, 16);
    for (const m of masked) expect(m.values.filter((v, i) => v === plain[i]).length).toBeLessThan(5);
    sum().forEach((v) => expect(v).toBeCloseTo(2, 4));
  });

  it('tolerates silent clients at the last step down to the threshold, and fails below it', () => {
    const inputs = Array.from({ length: 5 }, (_, i) => Float64Array.of(i, -i));
    expect(Array.from(round(inputs, 3, [5], [4]).sum())).toEqual([6, -6]);
    expect(() => round(inputs, 3, [5], [3, 4]).sum()).toThrow(/3 are needed/);
  });
});
