// Joint inference on handwritten digits (UCI optdigits, 8×8), issue 7: a small edge classifier
// answers every image; a hard-example rule on its own output sends the hard ones to a larger cloud
// classifier. Prints accuracy vs offload rate for each rule on the held-out test split, and the
// threshold picked on the validation split (never on test) that closes at least half the gap
// between the edge model alone and the cloud model alone, with its test figures.
//
//   npm run build && node bench/joint/run.js [--seed N] [--edge-hidden UNITS (default 8)]
import fs from 'node:fs';
import { dataSource, digitsFile, fmt, loadLibrary } from '../ml/datasets.js';

const ml = await loadLibrary();
const seedArg = process.argv.indexOf('--seed');
const seed = seedArg > 0 ? Number(process.argv[seedArg + 1]) : 1;
const hiddenArg = process.argv.indexOf('--edge-hidden');
const edgeHidden = hiddenArg > 0 ? Number(process.argv[hiddenArg + 1]) : 8;

// Both models train on the same split (same seed and fractions), so test rows are unseen by both.
const EDGE = { architecture: 'dense', hidden: [edgeHidden], dropout: 0, epochs: 40, seed };
const CLOUD = { architecture: 'dense', hidden: [256, 128], epochs: 60, seed };

async function probabilities(bundle, data, rows) {
  const predictor = await ml.loadBundle(bundle);
  try {
    const { x } = ml.imageRows(data, rows);
    return await predictor.classify(x.data, rows.length);
  } finally {
    predictor.dispose();
  }
}

function argmax(p, offset, k) {
  let best = 0;
  for (let c = 1; c < k; c++) if (p[offset + c] > p[offset + best]) best = c;
  return best;
}

/** Per sample: both models right or wrong, and each rule's score of the edge output. */
function score(data, rows, edgeP, cloudP) {
  const k = data.classNames.length;
  const edgeRight = [];
  const cloudRight = [];
  const scores = { confidence: [], entropy: [] };
  rows.forEach((row, r) => {
    const label = data.labels[row];
    edgeRight.push(argmax(edgeP, r * k, k) === label);
    cloudRight.push(argmax(cloudP, r * k, k) === label);
    const output = { kind: 'probabilities', probabilities: edgeP.subarray(r * k, (r + 1) * k) };
    scores.confidence.push(ml.CONFIDENCE_RULE.score(output));
    scores.entropy.push(ml.ENTROPY_RULE.score(output));
  });
  const accuracy = (right) => right.filter(Boolean).length / right.length;
  return { edgeRight, cloudRight, scores, edge: accuracy(edgeRight), cloud: accuracy(cloudRight) };
}

/** The joint accuracy on `s` when samples scoring above `threshold` go to the cloud. */
function at(s, rule, threshold) {
  let right = 0;
  let sent = 0;
  s.scores[rule].forEach((value, i) => {
    const hard = value > threshold;
    sent += hard ? 1 : 0;
    right += (hard ? s.cloudRight[i] : s.edgeRight[i]) ? 1 : 0;
  });
  return { offloadRate: sent / s.scores[rule].length, accuracy: right / s.scores[rule].length };
}

console.log(`== Joint inference on digits (data: ${dataSource()}, seed ${seed}) ==`);
const data = ml.parseImageCsv(fs.readFileSync(digitsFile(), 'utf8'), { height: 8, width: 8 });
let started = performance.now();
const edge = await ml.trainImageClassifier(data, EDGE);
const edgeS = (performance.now() - started) / 1000;
console.log(`edge model trained in ${fmt(edgeS, 1)} s`);
started = performance.now();
const cloud = await ml.trainImageClassifier(data, CLOUD);
const cloudS = (performance.now() - started) / 1000;
const split = ml.splitImages(data, { testFraction: 0.2, validationFraction: 0.1, seed });
const sets = {};
for (const part of ['validation', 'test']) {
  const rows = split[part];
  sets[part] = score(data, rows, await probabilities(edge.bundle, data, rows), await probabilities(cloud.bundle, data, rows));
}
const test = sets.test;
console.log(
  `images ${data.labels.length} (train/val/test ${split.train.length}/${split.validation.length}/${split.test.length}); ` +
    `edge: dense [${edgeHidden}] (${fmt(edgeS, 1)} s to train), cloud: dense [256, 128] (${fmt(cloudS, 1)} s)`,
);
console.log(`test accuracy: edge alone ${fmt(test.edge * 100)}%, cloud alone ${fmt(test.cloud * 100)}%`);

for (const rule of ['confidence', 'entropy']) {
  const curve = ml.jointCurve(test.scores[rule], test.edgeRight, test.cloudRight);
  const rows = [0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 1].map((target) => {
    const point = curve.find((p) => p.offloadRate >= target - 1e-9) ?? curve.at(-1);
    return { 'offload rate': fmt(point.offloadRate * 100, 1) + '%', 'joint accuracy': fmt(point.accuracy * 100) + '%' };
  });
  console.log(`\naccuracy vs offload rate on test, rule: ${rule}`);
  console.table(rows);
  // Pick the threshold on validation: the lowest offload rate that closes half the gap there.
  const v = sets.validation;
  const vCurve = ml.jointCurve(v.scores[rule], v.edgeRight, v.cloudRight);
  const picked = ml.pointClosingGap(vCurve, v.edge, v.cloud, 0.5);
  if (!picked) {
    console.log(`${rule}: no threshold closes half the gap on validation`);
    continue;
  }
  const result = at(test, rule, picked.threshold);
  const closed = test.cloud > test.edge ? (result.accuracy - test.edge) / (test.cloud - test.edge) : Number.NaN;
  const goal = closed >= 0.5 && result.offloadRate < 0.3;
  console.log(
    `${rule}: threshold ${fmt(picked.threshold, 4)} (picked on validation) → on test ${fmt(result.accuracy * 100)}% ` +
      `offloading ${fmt(result.offloadRate * 100, 1)}%, closes ${fmt(closed * 100, 0)}% of the gap; ` +
      `goal (≥ 50% of the gap, < 30% offloaded): ${goal ? 'met' : 'MISSED'}`,
  );
}
