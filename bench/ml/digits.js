// Handwritten digits (UCI optdigits, 8×8): held-out accuracy of the default image classifier vs the
// majority class. Goal (issue 3): ≥ 95%.
import fs from 'node:fs';
import { dataSource, digitsFile, fmt, loadLibrary } from './datasets.js';

const ml = await loadLibrary();

export async function runDigitsBench() {
  console.log(`\n== Digits classifier (data: ${dataSource()}) ==`);
  const data = ml.parseImageCsv(fs.readFileSync(digitsFile(), 'utf8'), { height: 8, width: 8 });
  const started = performance.now();
  const trained = await ml.trainImageClassifier(data);
  const trainS = (performance.now() - started) / 1000;
  const { test } = await ml.evaluateImageClassifier(trained.bundle, data);
  console.table([
    {
      images: data.labels.length,
      'train/val/test': `${trained.split.train}/${trained.split.validation}/${trained.split.test}`,
      'test accuracy': fmt(test.model.accuracy * 100) + '%',
      'macro F1': fmt(test.model.macroF1, 3),
      'majority-class accuracy': fmt(test.baseline.metrics.accuracy * 100) + '%',
      'goal ≥ 95%': test.model.accuracy >= 0.95 ? 'met' : 'MISSED',
      'train s': fmt(trainS, 1),
      epochs: `${trained.training.history.length} (best ${trained.training.bestEpoch})`,
    },
  ]);
  console.log('F1 per class:', test.model.f1PerClass.map((f, c) => `${data.classNames[c]}:${fmt(f, 3)}`).join(' '));
  return test;
}

if (import.meta.url === `file://${process.argv[1]}`) await runDigitsBench();
