// Drift detection and the retraining loop on the real PJM East series, replayed hour by hour
// through the same collector an agent runs and the same test the control plane applies
// (`npm run build && npm run bench:drift`). A forecaster trains on 2015–2016; 2017 to August 2018
// are replayed (a) as they are — every firing is a false alarm — and (b) with +20% load from
// 2017-07-01 on. With the default policy, the first event in (b) starts a round as the control
// plane does: retrain with the champion's parameters on the data up to the event, score both on
// the same held-out windows, promote on a 5% margin; the replay goes on with the winner.
// Prints: false alarms per 30 days, hours from the shift to the event and to the challenger
// serving, and the edge MAPE before / after. EPOCHS (default 15) sets the training epochs.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DRIFT_POLICY_DEFAULTS } from '../../dist/contracts/drift.js';
import { evaluateDrift } from '../../dist/drift/evaluate-drift.js';
import { loadBundle } from '../../dist/ml/bundle/load-bundle.js';
import { compareForecasters } from '../../dist/ml/drift/challenger.js';
import { DriftCollector } from '../../dist/ml/drift/drift-collector.js';
import { trainForecaster } from '../../dist/ml/forecast/train-forecaster.js';
import { parseTimeSeriesCsv } from '../../dist/ml/timeseries/ingest.js';

const text = fs.readFileSync(fileURLToPath(new URL('../../data/energy/PJME_hourly_trimmed.csv', import.meta.url)), 'utf8');
const full = parseTimeSeriesCsv(text, { timeColumn: 'Datetime', valueColumn: 'PJME_MW' });
const hourOf = (iso) => Math.round((Date.parse(iso) / 1000 - full.start) / full.intervalSeconds);
const trainEnd = hourOf('2017-01-01T00:00:00Z');
const shiftAt = hourOf('2017-07-01T00:00:00Z');
const params = { epochs: Number(process.env.EPOCHS ?? 15), hidden: [64, 64], seed: 1 };
const W = 168;
const H = 24;
const COOLDOWN_HOURS = 168;
const EVERY = 6; // hours of data between evaluations (a report)
const MAX_ROUNDS = 4; // rounds in (c), each retrains twice (warm and cold, ~20 s each)
const defaults = DRIFT_POLICY_DEFAULTS;

const started = Date.now();
const trained = await trainForecaster({ ...full, values: full.values.slice(0, trainEnd) }, params);
const validationMape = trained.manifest.metrics.validation.model.mape;
console.log(
  `champion: trained on ${trainEnd} hours (2015–2016) in ${((Date.now() - started) / 1000).toFixed(1)} s; validation MAPE ${validationMape.toFixed(2)}%`,
);

/** Each setting is a policy over the summary; `default` is DRIFT_POLICY_DEFAULTS through evaluateDrift, as shipped. */
const settings = [
  { label: 'psi > 0.1 over 168 h', windowHours: 168, fires: (s) => feature(s).count >= 100 && feature(s).psi > 0.1 },
  { label: 'psi > 0.1 over 720 h', windowHours: 720, fires: (s) => feature(s).count >= 100 && feature(s).psi > 0.1 },
  { label: 'wasserstein > 0.1 over 168 h', windowHours: 168, fires: (s) => feature(s).count >= 100 && feature(s).wasserstein > 0.1 },
  { label: 'wasserstein > 0.1 over 720 h', windowHours: 720, fires: (s) => feature(s).count >= 100 && feature(s).wasserstein > 0.1 },
  errorOnly(24, 1.5),
  errorOnly(48, 2),
  errorOnly(72, 2),
  errorOnly(72, 2.5),
  errorOnly(168, 2),
  {
    label: `DEFAULT: error > ${defaults.errorFactor}x val & > ${defaults.errorBaselineFactor}x naive, ${defaults.errorWindowHours} h`,
    errorHours: defaults.errorWindowHours,
    fires: (s) => evaluateDrift(defaults, s).length > 0,
    isDefault: true,
  },
];
function feature(summary) {
  return summary.features.find((x) => x.name === 'history');
}
function errorOnly(hours, k) {
  return {
    label: `error > ${k}x validation over ${hours} h (no naive)`,
    errorHours: hours,
    fires: (s) => evaluateDrift({ ...defaults, errorFactor: k, errorBaselineFactor: 0 }, s).length > 0,
  };
}

/** Forecasts of every origin in [from, to) at once (the same numbers as one request per hour). */
async function forecasts(predictor, values, from, to) {
  const n = to - from;
  const histories = new Float32Array(n * W);
  const startTimes = [];
  for (let k = 0; k < n; k++) {
    histories.set(values.subarray(from + k - W, from + k), k * W);
    startTimes.push(full.start + (from + k) * full.intervalSeconds);
  }
  return { histories, startTimes, out: await predictor.forecast(histories, startTimes, n) };
}

/** Mean APE (%) of every (origin, step) forecast whose target lies in [from, to). */
async function edgeMape(predictor, values, from, to) {
  const { out } = await forecasts(predictor, values, from - H + 1, to);
  let sum = 0;
  let n = 0;
  for (let k = 0; k < to - from + H - 1; k++) {
    const o = from - H + 1 + k;
    for (let h = 0; h < H; h++) {
      const t = o + h;
      if (t < from || t >= to) continue;
      sum += Math.abs(values[t] - out[k * H + h]) / values[t];
      n++;
    }
  }
  return (100 * sum) / n;
}

/**
 * Replays [trainEnd, end) through a collector per serving version; at every EVERY hours each
 * setting looks at the summary. With `round`, the default setting's first event after the shift
 * retrains and, when the challenger wins, the replay goes on with it from there.
 */
async function replay(values, { round = false } = {}) {
  const state = settings.map(() => ({ firings: 0, first: null, last: -Infinity, over: 0, evaluations: 0, months: new Map() }));
  let predictor = await loadBundle(trained.bundle);
  let champion = trained.bundle;
  let collector = new DriftCollector(trained.manifest);
  const end = values.length - H;
  const rounds = [];
  let o = trainEnd;
  while (o < end) {
    const chunk = Math.min(EVERY, end - o);
    const { histories, startTimes, out } = await forecasts(predictor, values, o, o + chunk);
    for (let k = 0; k < chunk; k++) {
      collector.observe(
        [
          { name: 'history', shape: [1, W], data: histories.subarray(k * W, (k + 1) * W) },
          { name: 'start_time', shape: [1], data: [startTimes[k]] },
        ],
        [{ name: 'forecast', shape: [1, H], data: out.subarray(k * H, (k + 1) * H) }],
      );
      // The actual of the hour that just ended arrives with the next request.
      collector.recordActuals(startTimes[k] - full.intervalSeconds, [values[o + k - 1]]);
    }
    o += chunk;
    for (const [i, s] of settings.entries()) {
      if (round && !s.isDefault) continue;
      const now = s.fires(collector.summary(s.windowHours ?? 168, s.errorHours ?? 24));
      const st = state[i];
      st.evaluations++;
      if (now) st.over++;
      if (now && o >= shiftAt && st.first === null) st.first = o;
      if (now && o - st.last >= COOLDOWN_HOURS) {
        st.firings++;
        st.last = o;
        const month = new Date((full.start + o * full.intervalSeconds) * 1000).toISOString().slice(0, 7);
        st.months.set(month, (st.months.get(month) ?? 0) + 1);
        if (round && s.isDefault && o >= shiftAt && rounds.length < MAX_ROUNDS) {
          const r = await retrain(values, o, champion);
          rounds.push(r);
          if (r.wins) {
            predictor.dispose();
            predictor = await loadBundle(r.bundle);
            champion = r.bundle;
            collector = new DriftCollector(r.manifest);
            r.servingFrom = o;
          }
        }
      }
    }
  }
  predictor.dispose();
  return { hours: end - trainEnd, state, rounds };
}

/** One round as the control plane runs it: the champion's parameters on the data up to `event`, the same held-out windows for both. */
async function retrain(values, event, championBundle) {
  const series = { ...full, values: values.slice(0, event) };
  // The control plane warm-starts from the champion's weights (same architecture); a cold start
  // from a random initialisation beside it, for the comparison.
  const cold = await trainRound(series, championBundle, {});
  const t0 = Date.now();
  const challenger = await trainForecaster(series, { ...params, warmStartFrom: 1 }, { warmStart: championBundle });
  const trainSeconds = (Date.now() - t0) / 1000;
  const comparison = await compareForecasters(championBundle, challenger.bundle, series);
  const seconds = (Date.now() - t0) / 1000;
  return {
    event,
    seconds,
    comparison,
    wins: comparison.improvement >= defaults.promotionMargin,
    bundle: challenger.bundle,
    manifest: challenger.manifest,
    warm: { ...summary(challenger), seconds: trainSeconds, mape: comparison.challengerMape },
    cold,
  };
}

async function trainRound(series, championBundle, options) {
  const t0 = Date.now();
  const trainedRound = await trainForecaster(series, params, options);
  const seconds = (Date.now() - t0) / 1000;
  const comparison = await compareForecasters(championBundle, trainedRound.bundle, series);
  return { ...summary(trainedRound), seconds, mape: comparison.challengerMape };
}

function summary(result) {
  return {
    epochsRun: result.training.history.length,
    bestEpoch: result.training.bestEpoch,
    firstValLoss: result.training.history[0].valLoss,
    bestValLoss: Math.min(...result.training.history.map((e) => e.valLoss)),
  };
}

const calmValues = Float32Array.from(full.values);
const calm = await replay(calmValues);
console.log(`\n(a) no shift: ${calm.hours} hours of 2017-01 .. 2018-08 replayed, evaluated every ${EVERY} h, 7-day cooldown`);
for (const [i, s] of settings.entries()) {
  const st = calm.state[i];
  console.log(
    `  ${s.label.padEnd(60)} over ${((100 * st.over) / st.evaluations).toFixed(1).padStart(5)}% of the time; firings ${String(st.firings).padStart(3)} = ${((st.firings / calm.hours) * 720).toFixed(2)} per 30 days`,
  );
}
const def = calm.state[settings.findIndex((s) => s.isDefault)];
console.log(
  `  default: months with a false alarm: ${def.months.size === 0 ? 'none' : [...def.months].map(([m, n]) => `${m} (${n})`).join(', ')}`,
);

const shiftedValues = Float32Array.from(full.values, (v, i) => (i >= shiftAt ? v * 1.2 : v));
const scan = await replay(shiftedValues);
console.log(`\n(b) +20% from 2017-07-01: hours of data from the shift to the first firing`);
for (const [i, s] of settings.entries()) {
  const first = scan.state[i].first;
  console.log(`  ${s.label.padEnd(60)} ${first === null ? 'never' : `${first - shiftAt} h`}`);
}

const looped = await replay(shiftedValues, { round: true });
const champion = await loadBundle(trained.bundle);
console.log(
  `\n(c) the loop with the default policy (retrain-and-promote, margin ${defaults.promotionMargin * 100}%, 7-day cooldown) on (b); each event retrains on the data up to it:`,
);
if (looped.rounds.length === 0) console.log('  no drift event: no round');
for (const [n, r] of looped.rounds.entries()) {
  console.log(
    `  round ${n + 1}: event ${r.event - shiftAt} h of data after the shift; retrained on ${r.event} hours in ${r.seconds.toFixed(1)} s; challenger MAPE ${r.comparison.challengerMape.toFixed(2)}% vs champion ${r.comparison.championMape.toFixed(2)}% on ${r.comparison.windows} held-out windows (${(100 * r.comparison.improvement).toFixed(1)}% lower): ${r.wins ? 'promoted' : 'kept'}`,
  );
}
console.log(
  "  warm start (the control plane's way: from the champion's weights) vs cold start (random initialisation), same data and seed:",
);
for (const [n, r] of looped.rounds.entries()) {
  const line = (x) =>
    `best epoch ${x.bestEpoch} of ${x.epochsRun} run (early stopping, patience ${params.patience ?? 5}), ${x.seconds.toFixed(1)} s, val loss epoch 1 ${x.firstValLoss.toFixed(4)} -> best ${x.bestValLoss.toFixed(4)}, held-out MAPE ${x.mape.toFixed(2)}%`;
  console.log(`    round ${n + 1} warm: ${line(r.warm)}`);
  console.log(`    round ${n + 1} cold: ${line(r.cold)}`);
}
const promoted = looped.rounds.find((r) => r.wins);
const first = looped.rounds[0];
if (first) {
  const week = 168;
  const month = 720;
  const after = promoted ? promoted.servingFrom : first.event;
  console.log(
    `  hours of data from the shift: to the first drift event ${first.event - shiftAt} h; to the challenger serving ${promoted ? `${promoted.servingFrom - shiftAt} h (+ the round's ${promoted.seconds.toFixed(0)} s of wall clock and a rollout)` : 'never'}`,
  );
  console.log(`  edge MAPE (every day-ahead forecast of each hour):`);
  console.log(
    `    champion, the week before the shift:                   ${(await edgeMape(champion, shiftedValues, shiftAt - week, shiftAt)).toFixed(2)}%`,
  );
  console.log(
    `    champion, from the shift to the first event:           ${(await edgeMape(champion, shiftedValues, shiftAt, first.event)).toFixed(2)}%`,
  );
  console.log(
    `    champion, the 30 days from ${promoted ? 'the promotion' : 'the event'} (had it stayed): ${(await edgeMape(champion, shiftedValues, after, after + month)).toFixed(2)}%`,
  );
  if (promoted) {
    const p = await loadBundle(promoted.bundle);
    console.log(
      `    challenger, the 30 days from the promotion:            ${(await edgeMape(p, shiftedValues, after, after + month)).toFixed(2)}%`,
    );
    p.dispose();
  }
}
champion.dispose();
