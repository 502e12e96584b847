import { type EdgeOutput, HARD_EXAMPLE_RULES, type HardExampleRule } from './hard-example.js';

export type JointRuleName = HardExampleRule['name'];

/**
 * The output tensors each rule reads from the edge model's answer: the class probabilities, or a
 * forecast interval (lower bound, point forecast as the median, upper bound), per row.
 */
export const RULE_OUTPUTS: Record<JointRuleName, readonly string[]> = {
  confidence: ['probabilities'],
  entropy: ['probabilities'],
  'interval-width': ['lower', 'forecast', 'upper'],
};

/** The highest threshold that means anything for each rule (its scores lie in 0–1); undefined: no upper bound. */
export const RULE_MAX_THRESHOLD: Record<JointRuleName, number | undefined> = {
  confidence: 1,
  entropy: 1,
  'interval-width': undefined,
};

/** A flat output tensor, first dimension the batch. */
export interface FlatTensor {
  name: string;
  shape: readonly number[];
  data: ArrayLike<unknown>;
}

/**
 * Each row's difficulty by `rule`, from the edge model's outputs (higher: harder). An interval
 * output with several steps (a forecast horizon) scores the mean of its steps' widths. NaN for a
 * row the rule cannot read (the outputs it needs are missing or malformed): such a row is easy.
 */
export function scoreRows(ruleName: JointRuleName, outputs: readonly FlatTensor[], batch: number): number[] {
  const rule = HARD_EXAMPLE_RULES[ruleName];
  const tensors = RULE_OUTPUTS[ruleName].map((name) => outputs.find((o) => o.name === name));
  const scores = new Array<number>(batch).fill(Number.NaN);
  if (batch === 0 || tensors.some((t) => !t || t.data.length % batch !== 0)) return scores;
  const width = tensors[0]!.data.length / batch;
  if (width === 0 || tensors.some((t) => t!.data.length / batch !== width)) return scores;
  const value = (t: number, i: number) => Number(tensors[t]!.data[i]);
  for (let r = 0; r < batch; r++) {
    if (ruleName !== 'interval-width') {
      const probabilities = Array.from({ length: width }, (_, c) => value(0, r * width + c));
      scores[r] = rule.score({ kind: 'probabilities', probabilities });
      continue;
    }
    let sum = 0;
    for (let h = 0; h < width; h++) {
      const i = r * width + h;
      const output: EdgeOutput = { kind: 'interval', lower: value(0, i), median: value(1, i), upper: value(2, i) };
      sum += rule.score(output);
    }
    scores[r] = sum / width;
  }
  return scores;
}

/** The class each row's probabilities pick (the highest), or -1 for a row without probabilities. */
export function predictedClasses(outputs: readonly FlatTensor[], batch: number): number[] {
  const probabilities = outputs.find((o) => o.name === 'probabilities');
  if (!probabilities || batch === 0 || probabilities.data.length % batch !== 0) return new Array<number>(batch).fill(-1);
  const k = probabilities.data.length / batch;
  return Array.from({ length: batch }, (_, r) => {
    let best = -1;
    let bestP = -Infinity;
    for (let c = 0; c < k; c++) {
      const p = Number(probabilities.data[r * k + c]);
      if (p > bestP) {
        best = c;
        bestP = p;
      }
    }
    return best;
  });
}
