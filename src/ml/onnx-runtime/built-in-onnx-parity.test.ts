import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { trainAnomalyDetector } from '../anomaly/train-anomaly-detector.js';
import { decodeContainer, encodeContainer } from '../bundle/bundle-container.js';
import type { InferInput, InferOutput } from '../bundle/infer-tensors.js';
import { loadBundle } from '../bundle/load-bundle.js';
import type { ForecasterParams } from '../forecast/forecaster-params.js';
import { gatherWindows } from '../forecast/forecast-windows.js';
import { prepareForecast, trainForecaster } from '../forecast/train-forecaster.js';
import { digitsModelSpec, forecastModelSpec, initialWeights } from '../federated/federated-model.js';
import { packageFederatedModel } from '../federated/package-federated.js';
import { parseImageCsv } from '../image/image-csv.js';
import { type ImageData, imageRows, splitImages, trainImageClassifier } from '../image/train-image-classifier.js';
import type { ImageClassifierParams } from '../image/image-params.js';
import { readDataFile } from '../test-support/data-files.js';
import { runInFreshProcess } from '../test-support/fresh-process.js';
import { parseTimeSeriesCsv } from '../timeseries/ingest.js';
import type { RegularSeries } from '../timeseries/series-types.js';
import { ONNX_FILE } from './imported-model.js';

// Every built-in kind, trained briefly on the vendored data, served from one bundle by both engines:
// ONNX Runtime must give tfjs's outputs on the whole test set within 1e-5 (relative above 1, e.g. MW).
const TOLERANCE = 1e-5;

const full = parseTimeSeriesCsv(readDataFile('energy/PJME_hourly_trimmed.csv'));
const POINTS = 12 * 168;
const load: RegularSeries = {
  start: full.start + (full.values.length - POINTS) * 3600,
  intervalSeconds: 3600,
  values: full.values.slice(-POINTS),
  filled: full.filled.slice(-POINTS),
};
const temperature = parseTimeSeriesCsv(readDataFile('nab/realKnownCause/ambient_temperature_system_failure.csv'));
const digits = parseImageCsv(readDataFile('optdigits/optdigits.csv'), { height: 8, width: 8 });

/** Same names, shapes and labels; float outputs within TOLERANCE, relative to the tfjs value where it exceeds 1. */
function expectSameOutputs(onnx: InferOutput[], tfjs: InferOutput[]): void {
  expect(onnx.map((o) => [o.name, o.datatype, o.shape])).toEqual(tfjs.map((o) => [o.name, o.datatype, o.shape]));
  let worst = 0;
  onnx.forEach((output, i) => {
    const reference = tfjs[i]!.data;
    if (output.datatype !== 'FP32') return expect(output.data).toEqual(reference);
    (output.data as number[]).forEach((a, j) => {
      const b = reference[j] as number;
      worst = Math.max(worst, Math.abs(a - b) / Math.max(1, Math.abs(b)));
    });
  });
  expect(worst).toBeLessThanOrEqual(TOLERANCE);
}

/** Loads the bundle on each engine, runs the same request through both, and checks they agree. */
async function expectParity(bundle: Uint8Array, request: InferInput[]): Promise<void> {
  const onnx = await loadBundle(bundle);
  const tfjs = await loadBundle(bundle, { runtime: 'tfjs' });
  try {
    expect([onnx.runtime, tfjs.runtime]).toEqual(['onnx', 'tfjs']);
    expectSameOutputs(await onnx.predict(request), await tfjs.predict(request));
  } finally {
    onnx.dispose();
    tfjs.dispose();
  }
}

function forecastRequest(series: RegularSeries, origins: Int32Array, window: number, horizon: number): InferInput[] {
  const batch = gatherWindows(series, origins, window, horizon);
  return [
    { name: 'history', datatype: 'FP32', shape: [batch.n, window], data: batch.histories },
    { name: 'start_time', datatype: 'INT64', shape: [batch.n], data: batch.startTimes },
  ];
}

function imageRequest(data: ImageData, rows: Int32Array): InferInput[] {
  return [{ name: 'image', datatype: 'FP32', shape: [rows.length, 8, 8, 1], data: imageRows(data, rows).x.data }];
}

function subset(data: ImageData, n: number): ImageData {
  return { ...data, pixels: data.pixels.slice(0, n * 64), labels: data.labels.slice(0, n) };
}

describe('built-in models on ONNX Runtime and tfjs', async () => {
  const forecaster = await trainForecaster(load, { hidden: [16], epochs: 2, testPoints: 14 * 24, validationFraction: 0.15 });
  const forecasterParams = forecaster.manifest.training.params as unknown as ForecasterParams;
  const forecasterTest = forecastRequest(load, prepareForecast(load, forecasterParams).split.test, 168, 24);

  it('packs model.onnx beside the tfjs weights, listed in the manifest', () => {
    expect(forecaster.manifest.files?.map((f) => f.name)).toEqual(['model.json', 'weights.bin', ONNX_FILE]);
    expect(decodeContainer(forecaster.bundle).files.get(ONNX_FILE)!.byteLength).toBeGreaterThan(1000);
  });

  it('forecaster: the test split (313 windows × 24 h, in MW)', async () => {
    await expectParity(forecaster.bundle, forecasterTest);
  });

  it('anomaly detector: every scored point of the NAB series', async () => {
    const detector = await trainAnomalyDetector(temperature, { hidden: [8], epochs: 2 });
    const recipe = detector.manifest.preprocessing;
    const served = recipe.forecast.window + recipe.smoothing - 1;
    const from = Math.max(served, (detector.scoredFrom - temperature.start) / temperature.intervalSeconds);
    const points = Int32Array.from({ length: temperature.values.length - from }, (_, i) => from + i);
    const history = new Float32Array(points.length * served);
    points.forEach((t, r) => history.set(temperature.values.subarray(t - served, t), r * served));
    await expectParity(detector.bundle, [
      { name: 'history', datatype: 'FP32', shape: [points.length, served], data: history },
      { name: 'value', datatype: 'FP32', shape: [points.length], data: Array.from(points, (t) => temperature.values[t]!) },
    ]);
  });

  it.each(['dense', 'conv'] as const)('digits classifier (%s): the test split', async (architecture) => {
    // The conv net trains on the CPU backend (no Conv2D gradient on WASM): a fifth of the images keeps it short.
    const data = architecture === 'dense' ? digits : subset(digits, 360);
    const classifier = await trainImageClassifier(data, { architecture, epochs: 1, hidden: [16], filters: 4 });
    const params = classifier.manifest.training.params as unknown as ImageClassifierParams;
    await expectParity(classifier.bundle, imageRequest(data, splitImages(data, params).test));
  });

  it('federated models: the digits classifier and a load forecaster', async () => {
    const record = { jobId: 'fl_parity', strategy: 'fedavg', rounds: [], params: {}, examples: 1 };
    const digitsSpec = digitsModelSpec({ hidden: [32] });
    const digitsBundle = await packageFederatedModel(digitsSpec, await initialWeights(digitsSpec), record);
    await expectParity(
      digitsBundle,
      imageRequest(
        digits,
        Int32Array.from({ length: digits.labels.length }, (_, i) => i),
      ),
    );
    const mean = load.values.reduce((s, v) => s + v, 0) / load.values.length;
    const forecastSpec = forecastModelSpec({ scaler: { mean, std: 0.2 * mean }, hidden: [16] });
    const forecastBundle = await packageFederatedModel(forecastSpec, await initialWeights(forecastSpec), record);
    const origins = Int32Array.from({ length: 200 }, (_, i) => 168 + i * 8);
    await expectParity(forecastBundle, forecastRequest(load, origins, 168, 24));
  });

  it('serves bundles packed before model.onnx on tfjs, whatever runtime is asked for', async () => {
    const { manifest, files } = decodeContainer(forecaster.bundle);
    const { files: _entries, ...rest } = manifest;
    const old = encodeContainer(
      rest,
      [...files].filter(([name]) => name !== ONNX_FILE).map(([name, bytes]) => ({ name, bytes })),
    );
    const predictor = await loadBundle(old, { runtime: 'onnx' });
    const current = await loadBundle(forecaster.bundle);
    try {
      expect(predictor.runtime).toBe('tfjs');
      expectSameOutputs(await current.predict(forecasterTest), await predictor.predict(forecasterTest));
    } finally {
      predictor.dispose();
      current.dispose();
    }
  });

  it('does not load TensorFlow.js in a process that serves on ONNX Runtime', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fogline-parity-')), 'forecaster.fogline');
    fs.writeFileSync(file, forecaster.bundle);
    const script = `
      import fs from 'node:fs';
      import { loadBundle } from './ml/bundle/load-bundle.js';
      const predictor = await loadBundle(fs.readFileSync(process.argv[2]), { runtime: process.argv[3] });
      const [out] = await predictor.predict([
        { name: 'history', shape: [1, 168], data: new Array(168).fill(30000) },
        { name: 'start_time', shape: [1], data: [1700000000] },
      ]);
      console.log(JSON.stringify({ runtime: predictor.runtime, tfjs: globalThis._tfengine !== undefined, values: out.data.length }));
    `;
    const run = async (runtime: string) => JSON.parse(await runInFreshProcess(script, [file, runtime]));
    try {
      expect(await run('onnx')).toEqual({ runtime: 'onnx', tfjs: false, values: 24 });
      expect(await run('tfjs')).toEqual({ runtime: 'tfjs', tfjs: true, values: 24 });
    } finally {
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
  });
});
