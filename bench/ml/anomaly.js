// Forecast-residual anomaly detector on NAB realKnownCause: window precision and recall per file,
// with the same default parameters for every file. A detected window is a true positive when it
// overlaps a labelled window; a labelled window is found when any detection overlaps it. Only the
// part after the training part (first 15%) is scored.
import fs from 'node:fs';
import path from 'node:path';
import { dataSource, fmt, loadLibrary, nabFiles } from './datasets.js';

const ml = await loadLibrary();

export async function runAnomalyBench() {
  console.log(`\n== NAB realKnownCause anomaly detection (data: ${dataSource()}) ==`);
  const { files, windows } = nabFiles();
  const labelsJson = fs.readFileSync(windows, 'utf8');
  const rows = [];
  for (const file of files) {
    const name = path.basename(file);
    const series = ml.parseTimeSeriesCsv(fs.readFileSync(file, 'utf8'));
    const started = performance.now();
    const trained = await ml.trainAnomalyDetector(series);
    const detection = await ml.detectAnomalies(trained.bundle, series, { labels: ml.parseNabWindows(labelsJson, name) });
    const e = detection.evaluation;
    rows.push({
      file: name,
      points: series.values.length,
      'detected windows': e.detectedWindows,
      'true positives': e.truePositives,
      'labelled windows found': `${e.labelledWindows - e.missedWindows}/${e.labelledWindows}`,
      precision: fmt(e.precision),
      recall: fmt(e.recall),
      F1: fmt(e.f1),
      's (train + score)': fmt((performance.now() - started) / 1000, 1),
    });
  }
  console.table(rows);
  const mean = (key) => rows.reduce((s, r) => s + Number(r[key]), 0) / rows.length;
  console.log(`mean precision ${fmt(mean('precision'))}, mean recall ${fmt(mean('recall'))}, mean F1 ${fmt(mean('F1'))}`);
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) await runAnomalyBench();
