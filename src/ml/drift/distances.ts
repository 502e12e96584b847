/**
 * Distances between a reference distribution and a current one, both binned on the same edges —
 * the forms Evidently uses for numeric columns: PSI, Wasserstein distance normalised by the
 * reference's standard deviation (drift above 0.1 for both), and the two-sample Kolmogorov–Smirnov
 * test (drift when p < 0.05; Evidently's choice for references of at most 1,000 values).
 *
 * A binned distribution has `edges.length + 1` masses: underflow (below the first edge, a point
 * mass at `underflowMean`), one per bin (uniform inside it), overflow (a point mass at
 * `overflowMean`). Binning loses detail inside a bin, so Wasserstein and KS here are
 * approximations of the exact statistics on raw values; PSI is exact for these bins.
 */
export interface BinnedDistribution {
  edges: readonly number[];
  /** `edges.length + 1` non-negative weights (counts or fractions); normalised here. */
  masses: readonly number[];
  underflowMean?: number;
  overflowMean?: number;
}

/** Evidently's floor for empty bins in PSI. */
export const PSI_EPSILON = 0.0001;

function normalised(masses: readonly number[]): number[] {
  const total = masses.reduce((a, b) => a + b, 0);
  return total > 0 ? masses.map((m) => m / total) : masses.map(() => 0);
}

function checkSameBins(a: BinnedDistribution, b: BinnedDistribution): void {
  if (a.masses.length !== b.masses.length || a.masses.length !== a.edges.length + 1) {
    throw new RangeError('both distributions need the same edges and edges.length + 1 masses');
  }
}

/** Population stability index: Σ (c − r)·ln(c / r) over bins, empty bins counted as 0.0001. Symmetric; 0 for equal distributions. */
export function psi(reference: BinnedDistribution, current: BinnedDistribution): number {
  checkSameBins(reference, current);
  const r = normalised(reference.masses);
  const c = normalised(current.masses);
  let sum = 0;
  for (let i = 0; i < r.length; i++) {
    const ri = Math.max(r[i]!, PSI_EPSILON);
    const ci = Math.max(c[i]!, PSI_EPSILON);
    sum += (ci - ri) * Math.log(ci / ri);
  }
  return sum;
}

/** The value below which a share `p` of the distribution lies (bins uniform inside, under/overflow as point masses). */
export function binnedQuantile(distribution: BinnedDistribution, p: number): number {
  const masses = normalised(distribution.masses);
  const { edges } = distribution;
  const last = masses.length - 1;
  let cumulative = 0;
  for (let i = 0; i <= last; i++) {
    const m = masses[i]!;
    if (m <= 0) continue;
    if (cumulative + m >= p || i === last) {
      if (i === 0) return distribution.underflowMean ?? edges[0]!;
      if (i === last) return distribution.overflowMean ?? edges.at(-1)!;
      const within = Math.min(1, Math.max(0, (p - cumulative) / m));
      return edges[i - 1]! + within * (edges[i]! - edges[i - 1]!);
    }
    cumulative += m;
  }
  return edges[0]!;
}

/** Wasserstein-1 distance (∫|Q_ref(p) − Q_cur(p)| dp, on a grid of 1,000 probabilities). Symmetric; 0 for equal distributions. */
export function wasserstein(reference: BinnedDistribution, current: BinnedDistribution, grid = 1000): number {
  checkSameBins(reference, current);
  let sum = 0;
  for (let j = 0; j < grid; j++) {
    const p = (j + 0.5) / grid;
    sum += Math.abs(binnedQuantile(reference, p) - binnedQuantile(current, p));
  }
  return sum / grid;
}

/** Wasserstein distance in units of the reference's standard deviation (Evidently's "normed" form). */
export function normalisedWasserstein(reference: BinnedDistribution, current: BinnedDistribution, referenceStd: number): number {
  const range = reference.edges.at(-1)! - reference.edges[0]!;
  const scale = referenceStd > 0 ? referenceStd : range > 0 ? range : 1;
  return wasserstein(reference, current) / scale;
}

/** Kolmogorov's limiting distribution: P(K > λ). */
function kolmogorovSurvival(lambda: number): number {
  if (lambda <= 0) return 1;
  let sum = 0;
  for (let k = 1; k <= 100; k++) {
    const term = 2 * (k % 2 === 1 ? 1 : -1) * Math.exp(-2 * k * k * lambda * lambda);
    sum += term;
    if (Math.abs(term) < 1e-12) break;
  }
  return Math.min(1, Math.max(0, sum));
}

/**
 * Two-sample KS on the binned CDFs: D = the largest gap between the cumulative shares at the bin
 * boundaries (a lower bound of D on the raw values), p from the asymptotic distribution with
 * n = reference count and m = current count (Stephens' correction).
 */
export function kolmogorovSmirnov(
  reference: BinnedDistribution,
  current: BinnedDistribution,
  referenceCount: number,
  currentCount: number,
): { statistic: number; pValue: number } {
  checkSameBins(reference, current);
  const r = normalised(reference.masses);
  const c = normalised(current.masses);
  let cr = 0;
  let cc = 0;
  let d = 0;
  for (let i = 0; i < r.length; i++) {
    cr += r[i]!;
    cc += c[i]!;
    d = Math.max(d, Math.abs(cr - cc));
  }
  if (referenceCount <= 0 || currentCount <= 0) return { statistic: d, pValue: 1 };
  const en = Math.sqrt((referenceCount * currentCount) / (referenceCount + currentCount));
  return { statistic: d, pValue: kolmogorovSurvival((en + 0.12 + 0.11 / en) * d) };
}
