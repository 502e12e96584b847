// Drift detection on the real PJM East series, replayed hour by hour through the same collector an
// agent runs (`npm run build && node bench/drift/run.js`). A forecaster trains on 2015–2016; 2017 to
// August 2018 are replayed (a) as they are — every firing is a false alarm — and (b) with +20% load
// from 2017-07-01 on. Prints, per test at its default threshold, false alarms per 30 days of data and
// hours from the shift to the first firing.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DriftCollector } from '../../dist/ml/drift/drift-collector.js';
import { loadBundle } from '../../dist/ml/bundle/load-bundle.js';
import { trainForecaster } from '../../dist/ml/forecast/train-forecaster.js';
import { parseTimeSeriesCsv } from '../../dist/ml/timeseries/ingest.js';

const text = fs.readFileSync(fileURLToPath(new URL('../../data/energy/PJME_hourly_trimmed.csv', import.meta.url)), 'utf8');
const full = parseTimeSeriesCsv(text, { timeColumn: 'Datetime', valueColumn: 'PJME_MW' });
const hourOf = (iso) => Math.round((Date.parse(iso) / 1000 - full.start) / full.intervalSeconds);
const trainEnd = hourOf('2017-01-01T00:00:00Z');
const shiftAt = hourOf('2017-07-01T00:00:00Z');
const epochs = Number(process.env.EPOCHS ?? 15);
const W = 168;
const COOLDOWN_HOURS = 168;
const H = 24;

const trainSeries = { ...full, values: full.values.slice(0, trainEnd) };
const started = Date.now();
const trained = await trainForecaster(trainSeries, { epochs, hidden: [64, 64], seed: 1 });
const validationMape = trained.manifest.metrics.validation.model.mape;
console.log(
  `trained on ${trainEnd} hours (2015–2016) in ${((Date.now() - started) / 1000).toFixed(1)} s; validation MAPE ${validationMape.toFixed(2)}%`,
);
const predictor = await loadBundle(trained.bundle);

const settings = [
  { test: 'psi', windowHours: 168 },
  { test: 'psi', windowHours: 720 },
  { test: 'wasserstein', windowHours: 168 },
  { test: 'wasserstein', windowHours: 720 },
  { test: 'error', errorHours: 24, k: 1.5 },
  { test: 'error', errorHours: 48, k: 2 },
  { test: 'error', errorHours: 72, k: 2 },
  { test: 'error', errorHours: 72, k: 2.5 },
  { test: 'error', errorHours: 168, k: 2 },
];

function fires(summary, s) {
  const f = summary.features.find((x) => x.name === 'history');
  if (s.test === 'psi') return f.count >= 100 && f.psi > 0.1;
  if (s.test === 'wasserstein') return f.count >= 100 && f.wasserstein > 0.1;
  const e = summary.error;
  return e.count >= 100 && e.mape > s.k * validationMape;
}

async function replay(shift) {
  const collector = new DriftCollector(trained.manifest);
  const values = Float32Array.from(full.values, (v, i) => (shift && i >= shiftAt ? v * 1.2 : v));
  const state = settings.map(() => ({ firings: 0, first: null, last: -Infinity, over: 0, evaluations: 0 }));
  let hours = 0;
  const mapes = { before: [0, 0], after: [0, 0] };
  for (let o = trainEnd; o + H <= values.length; o++) {
    const history = values.subarray(o - W, o);
    const startTime = full.start + o * full.intervalSeconds;
    const [out] = await predictor.predict([
      { name: 'history', shape: [1, W], datatype: 'FP32', data: history },
      { name: 'start_time', shape: [1], datatype: 'INT64', data: [startTime] },
    ]);
    collector.observe(
      [
        { name: 'history', shape: [1, W], data: history },
        { name: 'start_time', shape: [1], data: [startTime] },
      ],
      [out],
    );
    // The actual of the hour that just ended (o − 1) arrives now.
    collector.recordActuals(startTime - full.intervalSeconds, [values[o - 1]]);
    const ape = Math.abs(values[o] - out.data[0]) / values[o];
    const bucket = shift && o >= shiftAt ? mapes.after : mapes.before;
    bucket[0] += ape;
    bucket[1] += 1;
    hours++;
    if (hours % 6 !== 0) continue;
    for (const [i, s] of settings.entries()) {
      const summary = collector.summary(s.windowHours ?? 168, s.errorHours ?? 24);
      const now = fires(summary, s);
      state[i].evaluations++;
      if (now) state[i].over++;
      if (now && shift && o >= shiftAt && state[i].first === null) state[i].first = o;
      // A firing, as a policy's cooldown would let it through: over the threshold, a cooldown after the last one.
      if (now && o - state[i].last >= COOLDOWN_HOURS) {
        state[i].firings++;
        state[i].last = o;
      }
    }
  }
  return { hours, state, mapes };
}

const label = (s) =>
  s.test === 'error' ? `error MAPE > ${s.k}x validation over ${s.errorHours} h` : `${s.test} > 0.1 over ${s.windowHours} h`;
const calm = await replay(false);
console.log(`\n(a) no shift: ${calm.hours} hours of 2017-01 .. 2018-08 replayed`);
for (const [i, s] of settings.entries()) {
  console.log(
    `  ${label(s).padEnd(42)} over threshold ${((100 * calm.state[i].over) / calm.state[i].evaluations).toFixed(1).padStart(5)}% of the time; firings (7-day cooldown) ${String(calm.state[i].firings).padStart(3)} = ${((calm.state[i].firings / calm.hours) * 720).toFixed(2)} per 30 days`,
  );
}
const shifted = await replay(true);
console.log(
  `\n(b) +20% from 2017-07-01; one-hour-ahead MAPE before ${((100 * shifted.mapes.before[0]) / shifted.mapes.before[1]).toFixed(2)}%, after ${((100 * shifted.mapes.after[0]) / shifted.mapes.after[1]).toFixed(2)}%`,
);
for (const [i, s] of settings.entries()) {
  const first = shifted.state[i].first;
  console.log(`  ${label(s).padEnd(42)} first firing after the shift: ${first === null ? 'never' : `${first - shiftAt} h`}`);
}
predictor.dispose();
