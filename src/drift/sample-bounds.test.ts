import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkSamples, DEFAULT_SAMPLE_LIMITS, type SampleBounds, showTime, valueBand } from './sample-bounds.js';

const HOUR = 3600;
/** A dataset of hourly loads between 20,000 and 50,000 whose last row is at T0. */
const T0 = 1_530_403_200; // 2018-07-01T00:00:00Z
const NOW = T0 + 30 * 24 * HOUR;
const bounds: SampleBounds = {
  after: T0,
  nowSeconds: NOW,
  intervalSeconds: HOUR,
  range: { min: 20_000, max: 50_000 },
  limits: DEFAULT_SAMPLE_LIMITS,
};

describe('sample bounds', () => {
  it("refuses the issue's attack rows and keeps the valid ones beside them", () => {
    const samples = [
      { time: T0 + HOUR, value: 31_000 },
      { time: T0 + 2 * HOUR, value: 123_456_789 },
      { time: T0 + 3 * HOUR, value: -5 },
      { time: NOW + 30_000 * HOUR, value: 30_000 },
      { time: 8.64e12, value: 30_000 },
      { time: 1e300, value: 30_000 },
      { time: 123_456_789, value: 30_000 },
      { time: T0 + 2 * HOUR, value: 32_000 },
    ];
    const checked = checkSamples(samples, bounds);
    expect(checked.accepted).toEqual([
      [T0 + HOUR, 31_000],
      [T0 + 2 * HOUR, 32_000],
    ]);
    expect(checked.refused.map((r) => [r.row, r.reason])).toEqual([
      [1, 'value-out-of-band'],
      [2, 'value-out-of-band'],
      [3, 'time-in-future'],
      [4, 'time-in-future'],
      [5, 'time-in-future'],
      [6, 'time-not-after-dataset'],
    ]);
    expect(checked.refused[0]?.message).toMatch(/^samples\[1\] \(time 2018-07-01T02:00:00.000Z, value 123456789\): outside 0 \.\. 80000/);
    expect(checked.refused[3]?.message).toMatch(/^samples\[4\] \(time \+275760-09-13T00:00:00.000Z, /);
    expect(checked.refused[4]?.message).toMatch(/^samples\[5\] \(time 1e\+300, /);
  });

  it('lets one upload leave at most gapLimit empty slots, counted from the dataset’s last row', () => {
    const limits = { ...DEFAULT_SAMPLE_LIMITS, gapLimit: 5 };
    // 2 empty slots after T0, then 3 between the rows: 5 in all, allowed; one more is not.
    const ok = checkSamples(
      [
        { time: T0 + 3 * HOUR, value: 30_000 },
        { time: T0 + 7 * HOUR, value: 30_000 },
      ],
      { ...bounds, limits },
    );
    expect(ok.refused).toEqual([]);
    const over = checkSamples(
      [
        { time: T0 + 3 * HOUR, value: 30_000 },
        { time: T0 + 8 * HOUR, value: 30_000 },
        { time: T0 + 9 * HOUR, value: 30_000 },
      ],
      { ...bounds, limits },
    );
    expect(over.accepted).toEqual([[T0 + 3 * HOUR, 30_000]]);
    expect(over.refused.map((r) => [r.row, r.reason])).toEqual([
      [1, 'too-many-gaps'],
      [2, 'too-many-gaps'],
    ]);
  });

  it('widens the band by the factor and keeps it non-negative for a series that never was negative', () => {
    expect(valueBand({ min: 20_000, max: 50_000 }, 1)).toEqual({ low: 0, high: 80_000 });
    expect(valueBand({ min: 20_000, max: 50_000 }, 0.1)).toEqual({ low: 17_000, high: 53_000 });
    expect(valueBand({ min: -10, max: 30 }, 0.5)).toEqual({ low: -30, high: 50 });
    expect(valueBand({ min: 5, max: 5 }, 1)).toEqual({ low: 0, high: 10 });
  });

  it('shows any number as a time without throwing', () => {
    for (const t of [0, 8.64e12, 8.64e12 + 1, -1e300, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => showTime(t)).not.toThrow();
  });

  it('random rows: each is either kept or refused with its row number, and kept rows are in bounds', () => {
    const time = fc.oneof(
      fc.integer({ min: T0 - 1000 * HOUR, max: NOW + 1000 * HOUR }),
      fc.constantFrom(0, -1, 8.64e12, 8.64e12 + 1, 1e300, -1e300, Number.MAX_SAFE_INTEGER),
      fc.integer({ min: T0 + 1, max: T0 + 400 * HOUR }),
    );
    const value = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.double({ min: 20_000, max: 50_000, noNaN: true }));
    fc.assert(
      fc.property(fc.array(fc.record({ time, value }), { minLength: 1, maxLength: 200 }), (samples) => {
        const checked = checkSamples(samples, bounds);
        const refusedRows = checked.refused.map((r) => r.row);
        expect(new Set(refusedRows).size).toBe(refusedRows.length);
        expect(checked.accepted.length + checked.repeated + checked.refused.length).toBe(samples.length);
        for (const r of checked.refused) expect(r.message.startsWith(`samples[${r.row}] `)).toBe(true);
        let previous = T0;
        let filled = 0;
        for (const [t, v] of checked.accepted) {
          expect(t).toBeGreaterThan(previous);
          expect(t).toBeLessThanOrEqual(NOW + DEFAULT_SAMPLE_LIMITS.clockSkewSeconds);
          expect(v).toBeGreaterThanOrEqual(0);
          expect(v).toBeLessThanOrEqual(80_000);
          filled += Math.max(0, Math.round((t - previous) / HOUR) - 1);
          previous = t;
          // The row it came from was not refused.
          expect(samples.some((s, row) => s.time === t && s.value === v && !refusedRows.includes(row))).toBe(true);
        }
        expect(filled).toBeLessThanOrEqual(DEFAULT_SAMPLE_LIMITS.gapLimit);
        // A valid row is kept unless a later row repeats its time or the gap limit stops it.
        samples.forEach((s, row) => {
          const valid = s.time > T0 && s.time <= NOW + 3600 && s.value >= 0 && s.value <= 80_000;
          const reason = checked.refused.find((r) => r.row === row)?.reason;
          if (valid) expect(reason === undefined || reason === 'too-many-gaps').toBe(true);
          else expect(reason).toBeDefined();
        });
      }),
      { numRuns: 300 },
    );
  });
});
