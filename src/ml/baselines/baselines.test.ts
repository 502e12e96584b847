import { describe, expect, it } from 'vitest';
import { majorityClass } from './majority-class.js';
import { seasonalNaive, seasonalSource } from './seasonal-naive.js';

describe('seasonalNaive', () => {
  // Two windows of history 0..7 and 10..17 (window 8).
  const histories = Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13, 14, 15, 16, 17]);

  it('repeats the value one season earlier for each step', () => {
    expect(Array.from(seasonalNaive(histories, 2, 8, 3, 4))).toEqual([4, 5, 6, 14, 15, 16]);
  });

  it('goes back whole seasons when the horizon is longer than a season', () => {
    // season 2, horizon 5: steps 0,1 → last season; 2,3 → same again; 4 → again
    expect(Array.from(seasonalNaive(histories, 1, 8, 5, 2))).toEqual([6, 7, 6, 7, 6]);
    expect(seasonalSource(23, 24)).toBe(-1);
    expect(seasonalSource(0, 168)).toBe(-168);
  });
});

describe('majorityClass', () => {
  it('returns the most frequent label, the smallest on ties', () => {
    expect(majorityClass([2, 1, 2, 0], 3)).toBe(2);
    expect(majorityClass([1, 0], 2)).toBe(0);
  });
});
