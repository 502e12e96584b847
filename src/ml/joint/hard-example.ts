/**
 * Joint inference (issue 7, after KubeEdge Sedna): a small edge model answers every sample, and a
 * pluggable hard-example rule decides from its output alone which samples go to a larger cloud
 * model. Each rule scores a sample's difficulty (higher: harder) so that one threshold sweep gives
 * the whole accuracy vs offload-rate curve.
 */

/** What the edge model said about one sample. */
export type EdgeOutput =
  { kind: 'probabilities'; probabilities: ArrayLike<number> } | { kind: 'interval'; lower: number; median: number; upper: number };

export interface HardExampleRule {
  readonly name: 'confidence' | 'entropy' | 'interval-width';
  /** Difficulty of one sample, higher is harder; NaN when the rule does not apply to this output. */
  score(output: EdgeOutput): number;
  /** Whether a sample with this score goes to the cloud at `threshold`. */
  isHard(score: number, threshold: number): boolean;
}

const hardAbove = (score: number, threshold: number) => score > threshold;

/** 1 − the top class probability: hard when the edge model is less sure than 1 − threshold. */
export const CONFIDENCE_RULE: HardExampleRule = {
  name: 'confidence',
  score: (output) => (output.kind === 'probabilities' ? 1 - Math.max(...Array.from(output.probabilities)) : Number.NaN),
  isHard: hardAbove,
};

/** Shannon entropy of the class probabilities over log(classes): 0 (certain) to 1 (uniform). */
export const ENTROPY_RULE: HardExampleRule = {
  name: 'entropy',
  score(output) {
    if (output.kind !== 'probabilities' || output.probabilities.length < 2) return Number.NaN;
    let entropy = 0;
    for (const p of Array.from(output.probabilities)) if (p > 0) entropy -= p * Math.log(p);
    return entropy / Math.log(output.probabilities.length);
  },
  isHard: hardAbove,
};

/** Forecast-interval width relative to the median's size: a wide interval is a hard window. */
export const INTERVAL_WIDTH_RULE: HardExampleRule = {
  name: 'interval-width',
  score: (output) =>
    output.kind === 'interval' ? (output.upper - output.lower) / Math.max(Math.abs(output.median), Number.EPSILON) : Number.NaN,
  isHard: hardAbove,
};

export const HARD_EXAMPLE_RULES = { confidence: CONFIDENCE_RULE, entropy: ENTROPY_RULE, 'interval-width': INTERVAL_WIDTH_RULE } as const;

/** One point of the curve: send the samples scoring above `threshold` to the cloud. */
export interface JointPoint {
  threshold: number;
  offloadRate: number;
  accuracy: number;
}

/**
 * Accuracy vs offload rate of joint inference on labelled samples: for every distinct score as the
 * threshold (plus "offload nothing"), a sample is right when the model that answers it is right.
 * `edgeRight[i]`/`cloudRight[i]`: whether each model classifies sample i correctly.
 */
export function jointCurve(scores: ArrayLike<number>, edgeRight: ArrayLike<boolean>, cloudRight: ArrayLike<boolean>): JointPoint[] {
  const n = scores.length;
  if (n === 0) return [];
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  let right = 0;
  for (let i = 0; i < n; i++) if (edgeRight[i]) right += 1;
  const points: JointPoint[] = [{ threshold: scores[order[0]!]!, offloadRate: 0, accuracy: right / n }];
  for (let k = 0; k < n; k++) {
    const i = order[k]!;
    right += (cloudRight[i] ? 1 : 0) - (edgeRight[i] ? 1 : 0);
    // Ties go together: a threshold cannot split equal scores.
    if (k + 1 < n && scores[order[k + 1]!] === scores[i]) continue;
    const next = k + 1 < n ? scores[order[k + 1]!]! : -Infinity;
    points.push({ threshold: next, offloadRate: (k + 1) / n, accuracy: right / n });
  }
  return points;
}

/**
 * The lowest offload rate at which joint inference closes at least `gapShare` of the gap between
 * the edge model alone and the cloud model alone; undefined when no point does.
 */
export function pointClosingGap(
  points: readonly JointPoint[],
  edgeAccuracy: number,
  cloudAccuracy: number,
  gapShare = 0.5,
): JointPoint | undefined {
  const target = edgeAccuracy + gapShare * (cloudAccuracy - edgeAccuracy);
  return points.find((p) => p.accuracy >= target);
}
