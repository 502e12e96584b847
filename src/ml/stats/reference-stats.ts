/**
 * A summary of the values a model saw in training, kept in the bundle so a serving node can tell
 * when live inputs drift away from them (e.g. by a population stability index over `histogram`).
 */
export interface ReferenceStats {
  count: number;
  mean: number;
  std: number;
  min: number;
  max: number;
  /** Values at the probabilities in QUANTILE_LEVELS. */
  quantiles: number[];
  /** `bins` equal-width bins from min to max: edges (bins + 1) and the share of values in each bin. */
  histogram: { edges: number[]; fractions: number[] };
}

export const QUANTILE_LEVELS = [0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1] as const;

// JSON keeps these short and the bundle byte-stable: 7 significant digits is float32's precision.
const round = (x: number): number => Number(x.toPrecision(7));

/** Summarises values (NaN skipped); at most `sampleLimit` evenly spaced values are sorted for the quantiles. */
export function referenceStats(values: ArrayLike<number>, bins = 20, sampleLimit = 200_000): ReferenceStats {
  let count = 0;
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isNaN(v)) continue;
    count += 1;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (count === 0)
    return {
      count: 0,
      mean: 0,
      std: 0,
      min: 0,
      max: 0,
      quantiles: QUANTILE_LEVELS.map(() => 0),
      histogram: { edges: [0, 0], fractions: [0] },
    };
  const mean = sum / count;
  let sq = 0;
  const counts = new Array<number>(bins).fill(0);
  const width = (max - min) / bins || 1;
  const step = Math.max(1, Math.floor(values.length / sampleLimit));
  const sample: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isNaN(v)) continue;
    sq += (v - mean) ** 2;
    counts[Math.min(bins - 1, Math.floor((v - min) / width))]! += 1;
    if (i % step === 0) sample.push(v);
  }
  sample.sort((a, b) => a - b);
  const quantile = (p: number): number => sample[Math.min(sample.length - 1, Math.round(p * (sample.length - 1)))]!;
  return {
    count,
    mean: round(mean),
    std: round(Math.sqrt(sq / count)),
    min: round(min),
    max: round(max),
    quantiles: QUANTILE_LEVELS.map((p) => round(quantile(p))),
    histogram: {
      edges: Array.from({ length: bins + 1 }, (_, i) => round(min + i * width)),
      fractions: counts.map((c) => round(c / count)),
    },
  };
}
