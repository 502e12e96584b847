import { MlInputError } from '../errors.js';
import { seededRandom, shuffleInPlace } from '../tf/seeded-random.js';

export interface IndexSplit {
  train: Int32Array;
  validation: Int32Array;
  test: Int32Array;
}

/**
 * Splits row indices so every class keeps its share in each part (a random split of 1,797 digits
 * can leave a class thin in the test set). Seeded: the same seed gives the same split, which is
 * how evaluation finds the test rows training never saw.
 */
export function stratifiedSplit(
  labels: Int32Array,
  classes: number,
  testFraction: number,
  validationFraction: number,
  seed: number,
): IndexSplit {
  const random = seededRandom(seed);
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  labels.forEach((label, i) => {
    byClass[label]!.push(i);
  });
  const train: number[] = [];
  const validation: number[] = [];
  const test: number[] = [];
  for (const rows of byClass) {
    shuffleInPlace(rows, random);
    const nTest = Math.round(rows.length * testFraction);
    const nValidation = Math.round((rows.length - nTest) * validationFraction);
    test.push(...rows.slice(0, nTest));
    validation.push(...rows.slice(nTest, nTest + nValidation));
    train.push(...rows.slice(nTest + nValidation));
  }
  if (train.length === 0 || validation.length === 0 || test.length === 0) {
    throw new MlInputError('too-short', `${labels.length} images are too few to split into train, validation and test sets.`);
  }
  const sorted = (a: number[]): Int32Array => Int32Array.from(a).sort();
  return { train: sorted(train), validation: sorted(validation), test: sorted(test) };
}
