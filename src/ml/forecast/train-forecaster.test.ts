import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBundle } from '../bundle/load-bundle.js';
import { MlInputError } from '../errors.js';
import { DATA_DIR, readDataFile } from '../test-support/data-files.js';
import { runInFreshProcess } from '../test-support/fresh-process.js';
import { parseTimeSeriesCsv } from '../timeseries/ingest.js';
import type { RegularSeries } from '../timeseries/series-types.js';
import { evaluateForecaster } from './evaluate-forecaster.js';
import { trainForecaster } from './train-forecaster.js';

// Twelve weeks of real PJM East load keep the training run to a few seconds; quality is the bench's job.
const full = parseTimeSeriesCsv(readDataFile('energy/PJME_hourly_trimmed.csv'));
const POINTS = 12 * 168;
const series: RegularSeries = {
  start: full.start + (full.values.length - POINTS) * 3600,
  intervalSeconds: 3600,
  values: full.values.slice(-POINTS),
  filled: full.filled.slice(-POINTS),
};
const PARAMS = { hidden: [16], epochs: 4, testPoints: 14 * 24, validationFraction: 0.15, batchSize: 64 };

describe('trainForecaster', async () => {
  const progress: number[] = [];
  const trained = await trainForecaster(series, PARAMS, { onProgress: (p) => p.phase === 'train' && progress.push(p.epoch) });
  const evaluated = await evaluateForecaster(trained.bundle, series);

  it('trains with progress every epoch and a falling loss', () => {
    expect(progress).toEqual([1, 2, 3, 4].slice(0, trained.training.history.length));
    const losses = trained.training.history.map((e) => e.loss);
    expect(losses[losses.length - 1]).toBeLessThan(losses[0]!);
    expect(trained.split.test).toBe(14 * 24 - 24 + 1);
  });

  it('writes the fixed signature, preprocessing, fingerprint and drift statistics into the manifest', () => {
    const m = evaluated.manifest;
    expect(m).toMatchObject({ format: 'fogline-model-bundle', kind: 'forecaster', framework: 'tfjs', frameworkVersion: '4.22.0' });
    expect(m.signature).toEqual({
      inputs: [
        { name: 'history', datatype: 'FP32', shape: [-1, 168] },
        { name: 'start_time', datatype: 'INT64', shape: [-1] },
      ],
      outputs: [{ name: 'forecast', datatype: 'FP32', shape: [-1, 24] }],
    });
    expect(m.preprocessing).toMatchObject({ window: 168, horizon: 24, intervalSeconds: 3600, target: 'level', calendar: true });
    expect(m.preprocessing.scaler.std).toBeGreaterThan(0);
    expect(m.data).toMatchObject({ points: POINTS, start: series.start, intervalSeconds: 3600 });
    expect(m.referenceStats.inputs.history!.quantiles).toHaveLength(11);
    expect(m.metrics.test?.baselines['seasonal-naive-day']?.mape).toBeGreaterThan(0);
    expect(m.metrics.test?.model.mape).toBe(evaluated.test.model.mape);
    expect(evaluated.sameDataAsTraining).toBe(true);
  });

  it('packs the same bytes for the same seed and data', async () => {
    const again = await trainForecaster(series, PARAMS);
    expect(Buffer.from(again.bundle).equals(Buffer.from(trained.bundle))).toBe(true);
  });

  it('serves through the Open Inference Protocol tensors with the same numbers as the evaluation', async () => {
    const predictor = await loadBundle(evaluated.bundle);
    const rows = 3;
    const window = series.values.length - 24;
    const [out] = await predictor.predict([
      {
        name: 'history',
        datatype: 'FP32',
        shape: [rows, 168],
        data: Array.from({ length: rows }, (_, r) => Array.from(series.values.subarray(window - 168 - r, window - r))).flat(),
      },
      {
        name: 'start_time',
        datatype: 'INT64',
        shape: [rows],
        data: Array.from({ length: rows }, (_, r) => BigInt(series.start + (window - r) * 3600)),
      },
    ]);
    expect(out).toMatchObject({ name: 'forecast', datatype: 'FP32', shape: [rows, 24] });
    // The last test window starts 24 points before the end: the first row must equal the evaluation's last forecast.
    const last = evaluated.forecast.subarray(evaluated.forecast.length - 24);
    (out!.data as number[]).slice(0, 24).forEach((v, i) => expect(Math.abs(v - last[i]!) / Math.abs(last[i]!)).toBeLessThan(1e-5));
    await expect(predictor.predict([{ name: 'history', shape: [1, 100], data: new Array(100).fill(1) }])).rejects.toThrow(
      /must have shape \[-1, 168\]/,
    );
    predictor.dispose();
  });

  it('reproduces the test metrics and forecasts in a fresh process', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fogline-ml-'));
    const bundlePath = path.join(dir, 'energy.fogline');
    fs.writeFileSync(bundlePath, evaluated.bundle);
    const script = `
      import fs from 'node:fs';
      import { parseTimeSeriesCsv } from './ml/timeseries/ingest.js';
      import { evaluateForecaster } from './ml/forecast/evaluate-forecaster.js';
      const [bundlePath, csvPath, points] = process.argv.slice(2);
      const full = parseTimeSeriesCsv(fs.readFileSync(csvPath, 'utf8'));
      const n = Number(points);
      const series = { start: full.start + (full.values.length - n) * 3600, intervalSeconds: 3600, values: full.values.slice(-n), filled: full.filled.slice(-n) };
      const result = await evaluateForecaster(fs.readFileSync(bundlePath), series);
      process.stdout.write(JSON.stringify({ test: result.test, forecast: Array.from(result.forecast) }));
    `;
    const child = JSON.parse(
      await runInFreshProcess(script, [bundlePath, path.join(DATA_DIR, 'energy/PJME_hourly_trimmed.csv'), String(POINTS)]),
    );
    fs.rmSync(dir, { recursive: true });
    expect(child.test.model.mape).toBeCloseTo(evaluated.test.model.mape, 5);
    expect(child.forecast).toHaveLength(evaluated.forecast.length);
    const worst = (child.forecast as number[]).reduce(
      (m, v, i) => Math.max(m, Math.abs(v - evaluated.forecast[i]!) / Math.abs(evaluated.forecast[i]!)),
      0,
    );
    expect(worst).toBeLessThan(1e-5);
  }, 60_000);

  it('can be cancelled, and refuses a series too short for the window', async () => {
    const controller = new AbortController();
    const run = trainForecaster(
      series,
      { ...PARAMS, epochs: 50 },
      { signal: controller.signal, onProgress: (p) => p.phase === 'train' && controller.abort(new Error('cancelled by user')) },
    );
    await expect(run).rejects.toThrow('cancelled by user');
    const short = { ...series, values: series.values.slice(0, 300), filled: series.filled.slice(0, 300) };
    await expect(trainForecaster(short, PARAMS)).rejects.toBeInstanceOf(MlInputError);
  });
  it('warm-starts from a bundle of the same architecture (a lower first-epoch loss than from scratch) and refuses another one', async () => {
    const cold = await trainForecaster(series, { ...PARAMS, epochs: 1, seed: 7 });
    const warm = await trainForecaster(series, { ...PARAMS, epochs: 1, seed: 7, warmStartFrom: 1 }, { warmStart: trained.bundle });
    expect(warm.training.history[0]!.valLoss).toBeLessThan(cold.training.history[0]!.valLoss);
    expect(warm.manifest.training.params).toMatchObject({ warmStartFrom: 1 });
    await expect(
      trainForecaster(series, { ...PARAMS, hidden: [8], epochs: 1, warmStartFrom: 1 }, { warmStart: trained.bundle }),
    ).rejects.toThrow(/warm start: .* does not have this run's architecture/);
  });
});
