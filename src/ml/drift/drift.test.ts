import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BundleManifest } from '../bundle/bundle-manifest.js';
import { referenceStats } from '../stats/reference-stats.js';
import { type BinnedDistribution, binnedQuantile, kolmogorovSmirnov, normalisedWasserstein, psi, wasserstein } from './distances.js';
import { DriftCollector } from './drift-collector.js';
import { ForecastErrorTracker } from './forecast-error.js';
import { SlidingHistogram } from './sliding-histogram.js';
import { evaluateDrift } from '../../drift/evaluate-drift.js';
import { DRIFT_POLICY_DEFAULTS, type DriftSummary } from '../../contracts/drift.js';

const EDGES = [0, 1, 2, 3, 4, 5];
const masses = fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 7, maxLength: 7 }).filter((m) => m.some((x) => x > 0));
const dist = (m: number[]): BinnedDistribution => ({ edges: EDGES, masses: m, underflowMean: -1, overflowMean: 6 });

describe('distances', () => {
  it('PSI, Wasserstein and KS of a distribution with itself are 0', () => {
    fc.assert(
      fc.property(masses, (m) => {
        expect(psi(dist(m), dist(m))).toBeCloseTo(0, 12);
        expect(wasserstein(dist(m), dist(m))).toBeCloseTo(0, 12);
        expect(kolmogorovSmirnov(dist(m), dist(m), 100, 100).statistic).toBeCloseTo(0, 12);
      }),
    );
  });

  it('is symmetric and non-negative (PSI, Wasserstein, KS statistic)', () => {
    fc.assert(
      fc.property(masses, masses, (a, b) => {
        expect(psi(dist(a), dist(b))).toBeGreaterThanOrEqual(0);
        expect(psi(dist(a), dist(b))).toBeCloseTo(psi(dist(b), dist(a)), 9);
        expect(wasserstein(dist(a), dist(b))).toBeCloseTo(wasserstein(dist(b), dist(a)), 9);
        expect(kolmogorovSmirnov(dist(a), dist(b), 50, 70).statistic).toBeCloseTo(
          kolmogorovSmirnov(dist(b), dist(a), 70, 50).statistic,
          12,
        );
      }),
    );
  });

  it('does not depend on the scale of the masses (counts or shares)', () => {
    fc.assert(
      fc.property(masses, masses, fc.integer({ min: 2, max: 50 }), (a, b, k) => {
        expect(psi(dist(a.map((x) => x * k)), dist(b))).toBeCloseTo(psi(dist(a), dist(b)), 9);
      }),
    );
  });

  it('quantiles are monotone in p', () => {
    fc.assert(
      fc.property(masses, fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (m, p, q) => {
        const [lo, hi] = p <= q ? [p, q] : [q, p];
        expect(binnedQuantile(dist(m), lo)).toBeLessThanOrEqual(binnedQuantile(dist(m), hi) + 1e-12);
      }),
    );
  });

  it('a shift by one bin moves normalised Wasserstein by about one bin width over std; PSI and KS notice', () => {
    const ref = dist([0, 10, 20, 40, 20, 10, 0]);
    const shifted = dist([0, 0, 10, 20, 40, 20, 10]);
    expect(wasserstein(ref, shifted)).toBeGreaterThan(0.9);
    expect(wasserstein(ref, shifted)).toBeLessThan(1.1);
    expect(normalisedWasserstein(ref, shifted, 2)).toBeCloseTo(wasserstein(ref, shifted) / 2, 12);
    expect(psi(ref, shifted)).toBeGreaterThan(0.1);
    expect(kolmogorovSmirnov(ref, shifted, 1000, 1000).pValue).toBeLessThan(0.05);
    expect(kolmogorovSmirnov(ref, ref, 1000, 1000).pValue).toBe(1);
  });
});

describe('SlidingHistogram', () => {
  it('keeps bounded memory however many values, and counts only the window', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.double({ min: -10, max: 10, noNaN: true }), fc.integer({ min: 0, max: 5000 })), { maxLength: 2000 }),
        (points) => {
          const h = new SlidingHistogram(EDGES, { slots: 24 });
          let newest = -Infinity;
          for (const [v, hour] of points) {
            h.add(v, hour * 3_600_000);
            newest = Math.max(newest, hour);
          }
          expect(h.slotsInUse()).toBeLessThanOrEqual(24);
          const w = h.window();
          // Every value in the window is from the newest 24 hours (late ones may have been dropped).
          const inWindow = points.filter(([, hour]) => hour > newest - 24).length;
          expect(w.total).toBeLessThanOrEqual(inWindow);
          expect(w.counts.reduce((a, b) => a + b, 0)).toBe(w.total);
          expect(w.counts).toHaveLength(EDGES.length + 1);
        },
      ),
    );
  });

  it('a million values take no more slots than the capacity', () => {
    const h = new SlidingHistogram(EDGES, { slots: 48 });
    for (let i = 0; i < 1_000_000; i++) h.add(i % 7, i * 1000);
    expect(h.slotsInUse()).toBe(48);
    // 23 full hours and the newest, partly filled one.
    expect(h.window(24).total).toBeLessThanOrEqual(24 * 3600);
    expect(h.window(24).total).toBeGreaterThan(23 * 3600);
  });

  it('puts values in the right bins, with under- and overflow', () => {
    const h = new SlidingHistogram(EDGES);
    for (const v of [-3, 0, 0.5, 1, 4.9, 5, 7]) h.add(v, 0);
    const w = h.window();
    expect(w.counts).toEqual([1, 2, 1, 0, 0, 2, 1]);
    expect(w.underflowMean).toBe(-3);
    expect(w.overflowMean).toBe(7);
  });
});

describe('ForecastErrorTracker', () => {
  it('scores each forecast of an hour against its actual', () => {
    const t = new ForecastErrorTracker({ intervalSeconds: 3600, horizon: 3 });
    t.recordForecast(0, [100, 100, 100]);
    t.recordForecast(3600, [110, 110, 110]);
    expect(t.recordActual(3600, 100)).toBe(2); // forecasts 100 and 110: APE 0 and 10%
    expect(t.recordActual(3600, 100)).toBe(0);
    expect(t.window(24)).toMatchObject({ count: 2, mape: 5 });
  });

  it('scores the seasonal-naive forecast (same time yesterday) on the same hours, with bounded memory', () => {
    const t = new ForecastErrorTracker({ intervalSeconds: 3600, horizon: 1 });
    expect(t.recordActual(0, 100)).toBe(0); // yesterday's value for hour 24, no forecast for it
    t.recordForecast(86_400, [100]);
    expect(t.recordActual(86_400, 125)).toBe(1); // model APE 20%, naive (100) APE 20%
    t.recordForecast(90_000, [100]);
    expect(t.recordActual(90_000, 100)).toBe(1); // no actual yesterday at this hour: model only
    expect(t.window(48)).toMatchObject({ count: 2, mape: 10, baselineMape: 20 });
    for (let i = 0; i < 10_000; i++) t.recordActual(200_000 + i * 3600, 1);
    expect((t as unknown as { actuals: Map<number, number> }).actuals.size).toBeLessThanOrEqual(27);
    for (let i = 0; i < 10_000; i++) t.recordActual(1e9 + i * 7, 1); // off the grid
    expect((t as unknown as { actuals: Map<number, number> }).actuals.size).toBeLessThanOrEqual(4 * 27);
  });

  it('the error test needs both: above k x validation and above the naive factor x the naive MAPE', () => {
    const summary = (mape: number, baselineMape: number | null | undefined): DriftSummary => ({
      kind: 'forecaster',
      hasReference: true,
      windowHours: 168,
      from: null,
      to: null,
      rows: 500,
      features: [],
      error: {
        windowHours: 48,
        count: 500,
        mape,
        ...(baselineMape !== undefined ? { baselineMape } : {}),
        validationMape: 4,
        pending: 0,
        unmatched: 0,
      },
    });
    const policy = { ...DRIFT_POLICY_DEFAULTS };
    expect(evaluateDrift(policy, summary(9, 5))).toHaveLength(1); // 9 > 8 and 9 > 7.5
    expect(evaluateDrift(policy, summary(9, 7))).toHaveLength(0); // a hard week: naive suffers too
    expect(evaluateDrift(policy, summary(7, 1))).toHaveLength(0); // 7 < 2 x 4
    expect(evaluateDrift(policy, summary(9, undefined))).toHaveLength(1); // an older agent: first condition only
    expect(evaluateDrift({ ...policy, errorBaselineFactor: 0 }, summary(9, 7))).toHaveLength(1);
  });

  it('forgets the oldest forecasts past its bound', () => {
    const t = new ForecastErrorTracker({ intervalSeconds: 3600, horizon: 24, maxPending: 100 });
    for (let i = 0; i < 1000; i++) t.recordForecast(i * 3600, new Array(24).fill(1));
    expect(t.pendingCount()).toBeLessThanOrEqual(100);
    expect(t.forgotten).toBeGreaterThan(0);
  });
});

describe('DriftCollector', () => {
  const training = Array.from({ length: 5000 }, (_, i) => 30_000 + 5000 * Math.sin(i / 10));
  const manifest = (withReference: boolean): BundleManifest =>
    ({
      format: 'fogline-model-bundle',
      kind: 'forecaster',
      framework: 'tfjs',
      frameworkVersion: 'x',
      signature: {
        inputs: [
          { name: 'history', datatype: 'FP32', shape: [-1, 4] },
          { name: 'start_time', datatype: 'INT64', shape: [-1] },
        ],
        outputs: [{ name: 'forecast', datatype: 'FP32', shape: [-1, 2] }],
      },
      preprocessing: { window: 4, horizon: 2, intervalSeconds: 3600 },
      metrics: { validation: { model: { mape: 4 } } },
      ...(withReference ? { referenceStats: { inputs: { history: referenceStats(training) }, outputs: {} } } : {}),
    }) as unknown as BundleManifest;

  // A seeded draw from the training values (a fixed stride would alias with the sine).
  let seed = 7;
  const draw = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return training[seed % training.length]!;
  };

  const request = (value: number, hour: number) => ({
    inputs: [
      { name: 'history', shape: [1, 4], data: [value, value, value, value] },
      { name: 'start_time', shape: [1], data: [hour * 3600] },
    ],
    outputs: [{ name: 'forecast', shape: [1, 2], data: [value, value] }],
  });

  it('no drift on the training distribution; drift after a +20% level shift', () => {
    const c = new DriftCollector(manifest(true));
    for (let h = 0; h < 720; h++) {
      const r = request(draw(), h);
      c.observe(r.inputs, r.outputs);
    }
    const calm = c.summary(720).features[0]!;
    expect(calm.count).toBe(720);
    expect(calm.psi).toBeLessThan(0.1);
    expect(calm.wasserstein).toBeLessThan(0.1);
    for (let h = 720; h < 1440; h++) {
      const r = request(draw() * 1.2, h);
      c.observe(r.inputs, r.outputs);
    }
    const shifted = c.summary(720).features[0]!;
    expect(shifted.psi).toBeGreaterThan(0.1);
    expect(shifted.wasserstein).toBeGreaterThan(0.1);
  });

  it('forecast error: actuals posted later give the rolling MAPE beside the validation MAPE', () => {
    const c = new DriftCollector(manifest(true));
    const r = request(100, 10);
    c.observe(r.inputs, r.outputs);
    expect(c.recordActuals(10 * 3600, [125, 100])).toBe(2);
    expect(c.summary().error).toMatchObject({ count: 2, mape: 10, validationMape: 4 });
  });

  it('a bundle without reference statistics still serves its counts: drift is "no reference"', () => {
    const c = new DriftCollector(manifest(false));
    const r = request(100, 1);
    c.observe(r.inputs, r.outputs);
    const s = c.summary();
    expect(s.hasReference).toBe(false);
    expect(s.features[0]).toMatchObject({ count: 1, psi: null, wasserstein: null });
  });
});
