import { MlInputError } from '../errors.js';

export interface ClassificationMetrics {
  accuracy: number;
  /** F1 per class index; a class never predicted nor present scores 0. */
  f1PerClass: number[];
  macroF1: number;
  /** confusion[actual][predicted] counts. */
  confusion: number[][];
  count: number;
}

/**
 * @example classificationMetrics([0, 1, 1], [0, 1, 0], 2).accuracy // 2/3
 */
export function classificationMetrics(actual: ArrayLike<number>, predicted: ArrayLike<number>, classes: number): ClassificationMetrics {
  if (actual.length !== predicted.length)
    throw new MlInputError('bad-input', `actual has ${actual.length} labels but predicted has ${predicted.length}.`);
  if (actual.length === 0) throw new MlInputError('empty', 'Metrics need at least one prediction.');
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  let correct = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const p = predicted[i]!;
    if (!(a >= 0 && a < classes && p >= 0 && p < classes))
      throw new MlInputError('bad-input', `Label ${a} or ${p} at row ${i} is outside 0..${classes - 1}.`);
    confusion[a]![p]! += 1;
    if (a === p) correct += 1;
  }
  const f1PerClass = confusion.map((row, c) => {
    const tp = row[c]!;
    const actualCount = row.reduce((s, v) => s + v, 0);
    const predictedCount = confusion.reduce((s, r) => s + r[c]!, 0);
    return actualCount + predictedCount === 0 ? 0 : (2 * tp) / (actualCount + predictedCount);
  });
  return {
    accuracy: correct / actual.length,
    f1PerClass,
    macroF1: f1PerClass.reduce((s, v) => s + v, 0) / classes,
    confusion,
    count: actual.length,
  };
}
