import { describe, expect, it } from 'vitest';
import { CONFIDENCE_RULE, ENTROPY_RULE, INTERVAL_WIDTH_RULE, jointCurve, pointClosingGap } from './hard-example.js';

const probabilities = (...p: number[]) => ({ kind: 'probabilities' as const, probabilities: p });

describe('hard-example rules', () => {
  it('confidence: 1 − the top probability; hard above the threshold', () => {
    expect(CONFIDENCE_RULE.score(probabilities(0.9, 0.1))).toBeCloseTo(0.1);
    expect(CONFIDENCE_RULE.isHard(CONFIDENCE_RULE.score(probabilities(0.55, 0.45)), 0.3)).toBe(true);
    expect(CONFIDENCE_RULE.isHard(CONFIDENCE_RULE.score(probabilities(0.95, 0.05)), 0.3)).toBe(false);
  });

  it('entropy: 0 for a certain answer, 1 for a uniform one, whatever the class count', () => {
    expect(ENTROPY_RULE.score(probabilities(1, 0, 0))).toBe(0);
    expect(ENTROPY_RULE.score(probabilities(0.25, 0.25, 0.25, 0.25))).toBeCloseTo(1);
    expect(ENTROPY_RULE.score(probabilities(0.5, 0.5))).toBeCloseTo(1);
  });

  it('interval width relative to the median; rules that do not fit the output give NaN', () => {
    expect(INTERVAL_WIDTH_RULE.score({ kind: 'interval', lower: 90, median: 100, upper: 130 })).toBeCloseTo(0.4);
    expect(INTERVAL_WIDTH_RULE.score(probabilities(0.5, 0.5))).toBeNaN();
    expect(ENTROPY_RULE.score({ kind: 'interval', lower: 0, median: 1, upper: 2 })).toBeNaN();
  });
});

describe('the joint accuracy vs offload-rate curve', () => {
  // Four samples, hardest first: the edge model gets the two hard ones wrong, the cloud all right.
  const scores = [0.9, 0.7, 0.2, 0.1];
  const edge = [false, false, true, true];
  const cloud = [true, true, true, true];

  it('starts at the edge model alone and ends at the cloud model alone, offloading the hardest first', () => {
    const curve = jointCurve(scores, edge, cloud);
    expect(curve.map((p) => [p.offloadRate, p.accuracy])).toEqual([
      [0, 0.5],
      [0.25, 0.75],
      [0.5, 1],
      [0.75, 1],
      [1, 1],
    ]);
    expect(pointClosingGap(curve, 0.5, 1)).toMatchObject({ offloadRate: 0.25, accuracy: 0.75 });
  });

  it('keeps tied scores together', () => {
    const curve = jointCurve([0.5, 0.5, 0.1], [false, true, true], [true, true, true]);
    expect(curve.map((p) => p.offloadRate)).toEqual([0, 2 / 3, 1]);
  });
});
