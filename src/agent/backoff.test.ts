import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelay, jittered } from './backoff.js';

describe('back-off', () => {
  it('doubles from the base and stays within ±50% of the cap', () => {
    expect(backoffDelay(1, 1000, 30_000, () => 0.5)).toBe(1000);
    expect(backoffDelay(2, 1000, 30_000, () => 0.5)).toBe(2000);
    expect(backoffDelay(10, 1000, 30_000, () => 0.5)).toBe(30_000);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (failures, r) => {
        const delay = backoffDelay(failures, 1000, 30_000, () => r);
        expect(delay).toBeGreaterThanOrEqual(500);
        expect(delay).toBeLessThanOrEqual(45_000);
      }),
    );
  });

  it('spreads a regular interval by at most 10%', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 0.999999, noNaN: true }), (r) => {
        const delay = jittered(15_000, () => r);
        expect(delay).toBeGreaterThanOrEqual(13_500);
        expect(delay).toBeLessThanOrEqual(16_500);
      }),
    );
  });
});
