import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RateLimiter } from './rate-limit.js';

describe('RateLimiter', () => {
  it('lets the limit through each minute and refuses the rest, per key', () => {
    let clock = 0;
    const limiter = new RateLimiter(3, 100, () => clock);
    expect([1, 2, 3, 4].map(() => limiter.count('10.0.0.1'))).toEqual([false, false, false, true]);
    expect(limiter.exceeded('10.0.0.1')).toBe(true);
    expect(limiter.exceeded('10.0.0.2')).toBe(false);
    clock = 20_000;
    expect(limiter.retryAfterSeconds('10.0.0.1')).toBe(40);
    clock = 60_000;
    expect(limiter.exceeded('10.0.0.1')).toBe(false);
    expect(limiter.count('10.0.0.1')).toBe(false);
  });

  it('is off with a limit of 0', () => {
    const limiter = new RateLimiter(0);
    for (let i = 0; i < 1000; i += 1) expect(limiter.count('x')).toBe(false);
  });

  it('never tracks more keys than its bound, whatever the traffic', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 6 }), { maxLength: 500 }), fc.integer({ min: 1, max: 20 }), (keys, maxKeys) => {
        const limiter = new RateLimiter(5, maxKeys, () => 0);
        for (const key of keys) limiter.count(key);
        expect((limiter as unknown as { windows: Map<string, unknown> }).windows.size).toBeLessThanOrEqual(maxKeys);
      }),
    );
  });
});
