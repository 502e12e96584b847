import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MlInputError } from '../errors.js';
import { fitStandardScaler } from './scaler.js';
import { splitWindows } from './windows.js';

describe('splitWindows', () => {
  it('never lets a target belong to two splits, and keeps splits in time order', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 300, max: 1500 }),
        fc.double({ min: 0.05, max: 0.4, noNaN: true }),
        fc.double({ min: 0.05, max: 0.4, noNaN: true }),
        fc.integer({ min: 1, max: 5 }),
        (window, horizon, length, testFraction, validationFraction, stride) => {
          const split = splitWindows(length, { window, horizon, testFraction, validationFraction, stride });
          const owner = new Int8Array(length).fill(-1);
          const problems: string[] = [];
          (['train', 'validation', 'test'] as const).forEach((name, id) => {
            for (const o of split[name]) {
              if (o - window < 0) problems.push(`${name} window ${o} reads before the series`);
              for (let t = o; t < o + horizon; t++) {
                if (owner[t] !== -1 && owner[t] !== id) problems.push(`target ${t} is in two splits`);
                owner[t] = id;
              }
            }
          });
          // Training sees nothing at or after validationStart; each split's targets stay in its range.
          if (split.train.some((o) => o + horizon > split.validationStart)) problems.push('train target after validationStart');
          if (split.validation.some((o) => o < split.validationStart || o + horizon > split.testStart))
            problems.push('validation outside its range');
          if (split.test.some((o) => o < split.testStart || o + horizon > length)) problems.push('test outside its range');
          expect(problems).toEqual([]);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('holds out exactly testPoints at the end, and lets test histories reach back into validation', () => {
    const split = splitWindows(1000, { window: 48, horizon: 24, testPoints: 200 });
    expect(split.testStart).toBe(800);
    expect(split.test[0]).toBe(800);
    expect(split.test[split.test.length - 1]).toBe(976);
  });

  it('drops windows touching points invented for long gaps', () => {
    const filled = new Uint8Array(1000);
    filled[100] = 2;
    const split = splitWindows(1000, { window: 10, horizon: 5, testPoints: 200 }, filled);
    expect([...split.train].some((o) => o - 10 <= 100 && 100 < o + 5)).toBe(false);
    expect(split.train).toContain(90);
  });

  it('says how long the series must be', () => {
    const error = (() => {
      try {
        splitWindows(200, { window: 168, horizon: 24 });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(MlInputError);
    expect((error as MlInputError).problem).toBe('too-short');
    expect((error as MlInputError).message).toMatch(/needs at least \d+ points/);
  });
});

describe('fitStandardScaler', () => {
  it('is fitted on the training range only: later values never change it', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: 20, maxLength: 60 }),
        fc.double({ min: -1e9, max: 1e9, noNaN: true }),
        (values, junk) => {
          const before = fitStandardScaler(values, 0, 10);
          const changed = [...values];
          for (let i = 10; i < changed.length; i++) changed[i] = junk;
          expect(fitStandardScaler(changed, 0, 10)).toEqual(before);
        },
      ),
    );
  });

  it('computes mean and population std, and survives a constant series', () => {
    expect(fitStandardScaler([1, 2, 3, 4])).toEqual({ mean: 2.5, std: Math.sqrt(1.25) });
    expect(fitStandardScaler([5, 5, 5])).toEqual({ mean: 5, std: 1 });
  });
});
