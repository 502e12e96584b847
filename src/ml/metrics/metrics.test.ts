import { describe, expect, it } from 'vitest';
import { anomalyWindowMetrics } from './anomaly-metrics.js';
import { classificationMetrics } from './classification-metrics.js';
import { forecastMetrics } from './forecast-metrics.js';

describe('forecastMetrics', () => {
  it('matches hand-computed values', () => {
    // errors 10, 10, 20 on actuals 100, 200, 400
    const m = forecastMetrics([100, 200, 400], [110, 190, 380]);
    expect(m.mae).toBeCloseTo(40 / 3, 12);
    expect(m.rmse).toBeCloseTo(Math.sqrt((100 + 100 + 400) / 3), 12);
    expect(m.mape).toBeCloseTo(((10 / 100 + 10 / 200 + 20 / 400) / 3) * 100, 12);
    expect(m.smape).toBeCloseTo(((20 / 210 + 20 / 390 + 40 / 780) / 3) * 100, 12);
    expect(m.count).toBe(3);
  });

  it('skips zero actuals in MAPE and counts 0/0 as a perfect sMAPE point', () => {
    const m = forecastMetrics([0, 100, 0], [5, 150, 0]);
    expect(m.mape).toBeCloseTo(50, 12);
    expect(m.smape).toBeCloseTo(((2 + 100 / 250) / 3) * 100, 12);
  });

  it('refuses mismatched or empty inputs', () => {
    expect(() => forecastMetrics([1], [1, 2])).toThrow(/1 values but forecast has 2/);
    expect(() => forecastMetrics([], [])).toThrow(/at least one/);
  });
});

describe('classificationMetrics', () => {
  it('matches hand-computed accuracy, F1 and confusion matrix', () => {
    const m = classificationMetrics([0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 2, 0], 3);
    expect(m.accuracy).toBeCloseTo(4 / 6, 12);
    expect(m.confusion).toEqual([
      [1, 1, 0],
      [0, 2, 0],
      [1, 0, 1],
    ]);
    // class 0: tp 1, 2 actual, 2 predicted → 2/4; class 1: tp 2, 2 actual, 3 predicted → 4/5; class 2: tp 1, 2 actual, 1 predicted → 2/3
    expect(m.f1PerClass[0]).toBeCloseTo(0.5, 12);
    expect(m.f1PerClass[1]).toBeCloseTo(0.8, 12);
    expect(m.f1PerClass[2]).toBeCloseTo(2 / 3, 12);
    expect(m.macroF1).toBeCloseTo((0.5 + 0.8 + 2 / 3) / 3, 12);
  });

  it('refuses labels outside the classes', () => {
    expect(() => classificationMetrics([0, 3], [0, 0], 3)).toThrow(/outside 0..2/);
  });
});

describe('anomalyWindowMetrics', () => {
  const labelled = [
    { start: 100, end: 200 },
    { start: 500, end: 600 },
  ];

  it('counts a detection overlapping a labelled window as a true positive, touching included', () => {
    const m = anomalyWindowMetrics(
      [
        { start: 150, end: 160 },
        { start: 190, end: 250 },
        { start: 300, end: 310 },
        { start: 600, end: 700 },
      ],
      labelled,
    );
    expect(m).toMatchObject({ truePositives: 3, falsePositives: 1, missedWindows: 0, precision: 0.75, recall: 1 });
    expect(m.f1).toBeCloseTo((2 * 0.75) / 1.75, 12);
  });

  it('counts a labelled window once for recall however many detections hit it', () => {
    const m = anomalyWindowMetrics(
      [
        { start: 110, end: 120 },
        { start: 130, end: 140 },
      ],
      labelled,
    );
    expect(m).toMatchObject({ truePositives: 2, precision: 1, recall: 0.5, missedWindows: 1 });
  });

  it('gives precision 0 when nothing was detected but something was labelled', () => {
    expect(anomalyWindowMetrics([], labelled)).toMatchObject({ precision: 0, recall: 0, f1: 0 });
    expect(anomalyWindowMetrics([], [])).toMatchObject({ precision: 1, recall: 1 });
  });
});
