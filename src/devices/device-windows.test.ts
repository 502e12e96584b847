import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { regularize } from '../ml/timeseries/regularize.js';
import { DeviceMessageError } from './device-reading.js';
import { DeviceWindows, type WindowStep } from './device-windows.js';

const H = 3600;
const T0 = 1_733_558_400; // a multiple of the hour

describe('DeviceWindows', () => {
  it('fills, then is due on the first reading of each new slot (forecast: the newest slots, start time one interval on)', () => {
    const w = new DeviceWindows({ intervalSeconds: H, history: 3, mode: 'forecast' });
    expect(w.push({ device: 'm', time: T0, value: 1 })).toEqual({ kind: 'filling', device: 'm', have: 1, need: 3 });
    expect(w.push({ device: 'm', time: T0 + H + 60, value: 2 })).toEqual({ kind: 'filling', device: 'm', have: 2, need: 3 });
    expect(w.push({ device: 'm', time: T0 + 2 * H - 60, value: 3 })).toEqual({
      kind: 'due',
      device: 'm',
      slotTime: T0 + 2 * H,
      history: [1, 2, 3],
      startTime: T0 + 3 * H,
    });
    expect(w.devices()).toBe(1);
  });

  it('score mode: the history is the slots before this one, the value is this one', () => {
    const w = new DeviceWindows({ intervalSeconds: 60, history: 2, mode: 'score' });
    w.push({ device: 'm', time: 0, value: 1 });
    expect(w.push({ device: 'm', time: 60, value: 2 })).toEqual({ kind: 'filling', device: 'm', have: 2, need: 3 });
    expect(w.push({ device: 'm', time: 120, value: 5 })).toEqual({ kind: 'due', device: 'm', slotTime: 120, history: [1, 2], value: 5 });
  });

  it('averages another reading of the newest slot into it, ignores older ones, and interpolates gaps as training does', () => {
    const w = new DeviceWindows({ intervalSeconds: 10, history: 4, mode: 'forecast' });
    w.push({ device: 'm', time: 0, value: 0 });
    w.push({ device: 'm', time: 10, value: 10 });
    // Slot 4 after a gap of two slots: 20 and 30 are interpolated towards the first reading of slot 4.
    expect(w.push({ device: 'm', time: 40, value: 40 })).toMatchObject({ kind: 'due', history: [10, 20, 30, 40] });
    expect(w.push({ device: 'm', time: 41, value: 70 })).toEqual({ kind: 'merged', device: 'm' });
    expect(w.push({ device: 'm', time: 22, value: 99 })).toEqual({ kind: 'late', device: 'm' });
    // Slot 4 is now the mean, 55, and the interpolated slots before it follow it: 25, 40.
    expect(w.push({ device: 'm', time: 50, value: 60 })).toMatchObject({ kind: 'due', history: [25, 40, 55, 60] });
  });

  it('starts a window again after a gap longer than maxInterpolatedGap', () => {
    const w = new DeviceWindows({ intervalSeconds: 1, history: 2, mode: 'forecast', maxInterpolatedGap: 3 });
    w.push({ device: 'm', time: 0, value: 1 });
    expect(w.push({ device: 'm', time: 4, value: 2 })).toMatchObject({ kind: 'due', history: [1.75, 2] });
    expect(w.push({ device: 'm', time: 9, value: 3 })).toEqual({ kind: 'reset', device: 'm', gapSlots: 4 });
    expect(w.push({ device: 'm', time: 10, value: 4 })).toMatchObject({ kind: 'due', history: [3, 4] });
  });

  it('keeps devices apart and refuses more than maxDevices', () => {
    const w = new DeviceWindows({ intervalSeconds: 1, history: 1, mode: 'forecast', maxDevices: 2 });
    expect(w.push({ device: 'a', time: 0, value: 1 })).toMatchObject({ kind: 'due', history: [1] });
    expect(w.push({ device: 'b', time: 0, value: 2 })).toMatchObject({ kind: 'due', history: [2] });
    let error: unknown;
    try {
      w.push({ device: 'c', time: 0, value: 3 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DeviceMessageError);
    expect((error as DeviceMessageError).reason).toBe('too-many-devices');
    expect(w.push({ device: 'a', time: 1, value: 5 })).toMatchObject({ kind: 'due', history: [5] });
    expect(() => w.push({ device: 'a', time: 2, value: Number.NaN })).toThrow(DeviceMessageError);
  });

  it('refuses options that make no window', () => {
    expect(() => new DeviceWindows({ intervalSeconds: 0, history: 3, mode: 'forecast' })).toThrow('intervalSeconds is 0');
    expect(() => new DeviceWindows({ intervalSeconds: 1, history: 0, mode: 'forecast' })).toThrow('history is 0');
  });

  /** An on-grid series in time order: gaps of at most 24 slots, sometimes several readings in a slot. */
  const series = fc
    .array(
      fc.tuple(
        fc.oneof(
          { weight: 5, arbitrary: fc.constant(1) },
          { weight: 1, arbitrary: fc.constant(0) },
          { weight: 1, arbitrary: fc.integer({ min: 2, max: 25 }) },
        ),
        fc.integer({ min: -1000, max: 1000 }),
      ),
      { minLength: 1, maxLength: 80 },
    )
    .map((steps) => {
      let slot = 1000;
      return steps.map(([advance, value], i) => ({ slot: i === 0 ? slot : (slot += advance), value: value / 8 }));
    });

  for (const mode of ['forecast', 'score'] as const) {
    it(`${mode}: each due step's inputs are what regularize gives for the readings so far`, () => {
      fc.assert(
        fc.property(series, fc.integer({ min: 2, max: 12 }), (points, history) => {
          const w = new DeviceWindows({ intervalSeconds: H, history, mode });
          points.forEach((p, i) => {
            const step = w.push({ device: 'm', time: p.slot * H, value: p.value });
            if (step.kind !== 'due') return;
            const seen = points.slice(0, i + 1);
            const { series: regular } = regularize(
              { times: Float64Array.from(seen, (q) => q.slot * H), values: Float64Array.from(seen, (q) => q.value), count: seen.length },
              { intervalSeconds: H, maxFilledFraction: 1 },
            );
            const values = Array.from(regular.values);
            expect(step.slotTime).toBe(p.slot * H);
            if (mode === 'forecast') expect(step.history).toEqual(values.slice(-history));
            else {
              expect(step.history).toEqual(values.slice(-history - 1, -1));
              expect(step.value).toBe(values[values.length - 1]);
            }
          });
        }),
        { numRuns: 200 },
      );
    });
  }

  it('gives the same steps after snapshot → JSON → restore, with readings out of order and duplicated', () => {
    const reading = fc.record({
      device: fc.constantFrom('a', 'b', 'c'),
      time: fc.integer({ min: 0, max: 400 }).map((t) => t * 7.5),
      value: fc.integer({ min: -50, max: 50 }),
    });
    fc.assert(
      fc.property(
        fc.array(reading, { maxLength: 60 }),
        fc.array(reading, { maxLength: 30 }),
        fc.constantFrom('forecast', 'score') as fc.Arbitrary<'forecast' | 'score'>,
        (before, after, mode) => {
          const options = { intervalSeconds: 15, history: 4, mode, maxInterpolatedGap: 5 };
          const original = new DeviceWindows(options);
          for (const r of before) original.push(r);
          const restored = DeviceWindows.restore(options, JSON.parse(JSON.stringify(original.snapshot())));
          expect(restored.devices()).toBe(original.devices());
          const steps = (w: DeviceWindows): WindowStep[] => after.map((r) => w.push(r));
          expect(steps(restored)).toEqual(steps(original));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('restores nothing from another interval, cuts to a shorter history, and refuses a damaged snapshot', () => {
    const w = new DeviceWindows({ intervalSeconds: 1, history: 3, mode: 'forecast' });
    for (let t = 0; t < 3; t++) w.push({ device: 'm', time: t, value: t });
    expect(DeviceWindows.restore({ intervalSeconds: 2, history: 3, mode: 'forecast' }, w.snapshot()).devices()).toBe(0);
    const shorter = DeviceWindows.restore({ intervalSeconds: 1, history: 2, mode: 'forecast' }, w.snapshot());
    expect(shorter.push({ device: 'm', time: 3, value: 3 })).toMatchObject({ kind: 'due', history: [2, 3] });
    const damaged = { ...w.snapshot(), devices: [{ device: 'm', slot: 1, values: ['x'] }] } as never;
    expect(() => DeviceWindows.restore({ intervalSeconds: 1, history: 3, mode: 'forecast' }, damaged)).toThrow(
      'damaged window for device "m"',
    );
    expect(() => DeviceWindows.restore({ intervalSeconds: 1, history: 3, mode: 'forecast' }, {} as never)).toThrow(
      'not one DeviceWindows.snapshot() wrote',
    );
  });
});
