import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LatencyWindow } from './latency-window.js';

describe('LatencyWindow', () => {
  it('gives nothing before the first request, then p50 <= p99 within the values seen', () => {
    expect(new LatencyWindow().quantiles()).toBeUndefined();
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 10_000, noNaN: true }), { minLength: 1, maxLength: 2000 }), (latencies) => {
        const window = new LatencyWindow();
        for (const ms of latencies) window.push(ms);
        const { p50, p99 } = window.quantiles()!;
        const recent = latencies.slice(-512);
        expect(p50).toBeLessThanOrEqual(p99);
        expect(p50).toBeGreaterThanOrEqual(Math.min(...recent) - 0.001);
        expect(p99).toBeLessThanOrEqual(Math.max(...recent) + 0.001);
      }),
    );
  });

  it('describes the recent requests, not the old ones', () => {
    const window = new LatencyWindow();
    for (let i = 0; i < 1000; i += 1) window.push(100);
    for (let i = 0; i < 512; i += 1) window.push(1);
    expect(window.quantiles()).toEqual({ p50: 1, p99: 1 });
  });
});
