import { describe, expect, it } from 'vitest';
import { loadBundle } from '../bundle/load-bundle.js';
import { readDataFile } from '../test-support/data-files.js';
import { parseTimeSeriesCsv } from '../timeseries/ingest.js';
import { detectAnomalies } from './detect-anomalies.js';
import { scoresToWindows } from './detect-windows.js';
import { parseNabWindows } from './nab-labels.js';
import { trainAnomalyDetector } from './train-anomaly-detector.js';

const FILE = 'ambient_temperature_system_failure.csv';
const series = parseTimeSeriesCsv(readDataFile(`nab/realKnownCause/${FILE}`));
const labels = parseNabWindows(readDataFile('nab/labels/combined_windows.json'), FILE);

describe('forecast-residual anomaly detector on NAB', async () => {
  const trained = await trainAnomalyDetector(series, { epochs: 5, hidden: [16] });
  const detection = await detectAnomalies(trained.bundle, series, { labels });

  it('reads the NAB label windows', () => {
    expect(labels).toEqual([
      { start: Date.UTC(2013, 11, 15, 7) / 1000, end: Date.UTC(2013, 11, 30, 9) / 1000 },
      { start: Date.UTC(2014, 2, 29, 15) / 1000, end: Date.UTC(2014, 3, 20, 22) / 1000 },
    ]);
    expect(() => parseNabWindows('{}', FILE)).toThrow(/no entry/);
  });

  it('scores the series after the training part and evaluates windows against the labels', () => {
    expect(detection.scores).toHaveLength(series.values.length);
    expect(trained.scoredFrom).toBe(detection.scoredFrom);
    const scored = Array.from(detection.scores).filter((s) => !Number.isNaN(s));
    expect(scored.length).toBeGreaterThan(series.values.length * 0.8);
    expect(scored.every((s) => s >= 0)).toBe(true);
    expect(detection.windows.every((w) => w.start >= detection.scoredFrom && w.end >= w.start)).toBe(true);
    const e = detection.evaluation!;
    expect(e.labelledWindows).toBe(2);
    expect(e.precision).toBeGreaterThanOrEqual(0);
    expect(e.recall).toBeLessThanOrEqual(1);
    expect(e.truePositives + e.falsePositives).toBe(detection.windows.length);
  });

  it('serves the same smoothed score for one point as the batch detection', async () => {
    const predictor = await loadBundle(trained.bundle);
    const recipe = trained.manifest.preprocessing;
    const history = recipe.forecast.window + recipe.smoothing - 1;
    expect(predictor.signature.inputs[0]).toEqual({ name: 'history', datatype: 'FP32', shape: [-1, history] });
    const t = series.values.length - 10;
    const [, score, anomaly] = await predictor.predict([
      { name: 'history', shape: [1, history], data: Array.from(series.values.subarray(t - history, t)) },
      { name: 'value', shape: [1], data: [series.values[t]!] },
    ]);
    expect((score!.data as number[])[0]).toBeCloseTo(detection.scores[t]!, 4);
    expect(anomaly!.datatype).toBe('BOOL');
    predictor.dispose();
  });

  it('joins anomalous points that are close together into one window', () => {
    const scores = Float32Array.from([0, 9, 0, 9, 0, 0, 0, 0, 9, Number.NaN]);
    expect(scoresToWindows(scores, 1000, 60, { threshold: 5, mergeGap: 2 })).toEqual([
      { start: 1060, end: 1180, peakScore: 9, points: 2 },
      { start: 1480, end: 1480, peakScore: 9, points: 1 },
    ]);
  });
});
