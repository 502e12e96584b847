/** The most frequent training label (ties: the smallest); the classifier's baseline predicts it for every input. */
export function majorityClass(trainLabels: ArrayLike<number>, classes: number): number {
  const counts = new Array<number>(classes).fill(0);
  for (let i = 0; i < trainLabels.length; i++) counts[trainLabels[i]!]! += 1;
  let best = 0;
  for (let c = 1; c < classes; c++) if (counts[c]! > counts[best]!) best = c;
  return best;
}
