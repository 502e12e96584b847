// Per-site forecasters vs one federated forecaster on two PJM regions (PJME, AEP): day-ahead MAE on
// each region's last 12 months. Needs the full series in ../shared/datasets/energy (only PJME is
// vendored, and one region is no federation); skipped otherwise.
import fs from 'node:fs';
import path from 'node:path';

const REGIONS = ['PJME', 'AEP'];
const YEARS = 4; // the last 4 years of each: 3 to train on, the last 1 to score
const ROUNDS = Number(process.env.FL_ENERGY_ROUNDS ?? 15);
const LOCAL = { localEpochs: 1, batchSize: 64, learningRate: 0.05 };
// One scaler for every site (a federation cannot fit one on pooled data): a typical PJM regional load.
const SCALER = { mean: 24_000, std: 8_000 };

export async function runEnergyBench({ ml, fl, root, fmt }) {
  const dir = path.resolve(root, '../shared/datasets/energy');
  if (!REGIONS.every((r) => fs.existsSync(path.join(dir, `${r}_hourly.csv`)))) {
    console.log(`\n(energy: skipped — ${dir} does not hold ${REGIONS.map((r) => `${r}_hourly.csv`).join(' and ')})`);
    return;
  }
  const spec = fl.forecastModelSpec({ scaler: SCALER });
  const sites = REGIONS.map((region) => {
    const s = ml.parseTimeSeriesCsv(fs.readFileSync(path.join(dir, `${region}_hourly.csv`), 'utf8'));
    const n = YEARS * 8760;
    const series = {
      ...s,
      start: s.start + (s.values.length - n) * s.intervalSeconds,
      values: s.values.slice(-n),
      filled: s.filled.slice(-n),
    };
    return { region, data: fl.clientMatrices(spec, series, 1 / YEARS, 1) };
  });
  const mw = async (weights, site) =>
    (await fl.evaluateWeights(spec, weights, site.data.validation.x, site.data.validation.y, 'mae')).loss * SCALER.std;
  const naive = (site, lag) => {
    const { x, y } = site.data.validation;
    let sum = 0;
    for (let r = 0; r < y.rows; r++)
      for (let h = 0; h < 24; h++) sum += Math.abs(y.data[r * 24 + h] - x.data[r * x.cols + 168 - lag + (h % lag)]);
    return (sum / (y.rows * 24)) * SCALER.std;
  };

  const started = performance.now();
  let global = await fl.initialWeights(spec);
  for (let round = 1; round <= ROUNDS; round++) {
    const updates = [];
    for (const [k, site] of sites.entries()) {
      const u = await fl.trainClientUpdate(spec, global, site.data, { ...LOCAL, seed: round * 10 + k });
      updates.push({ delta: u.delta, examples: u.examples });
    }
    ({ weights: global } = fl.aggregate('fedavg', global, updates, null));
  }
  const federatedS = (performance.now() - started) / 1000;
  const rows = {};
  for (const [k, site] of sites.entries()) {
    let local = await fl.initialWeights(spec);
    for (let round = 1; round <= ROUNDS; round++) {
      const u = await fl.trainClientUpdate(spec, local, site.data, { ...LOCAL, seed: round * 10 + k });
      local = local.map((w, i) => w + u.delta[i]);
    }
    rows[site.region] = {
      'test windows': site.data.validation.x.rows,
      'federated MAE MW': fmt(await mw(global, site), 0),
      'own-data-only MAE MW': fmt(await mw(local, site), 0),
      'weekly naive MAE MW': fmt(naive(site, 168), 0),
      'daily naive MAE MW': fmt(naive(site, 24), 0),
    };
  }
  console.log(
    `\n== Energy: day-ahead MAE on each region's last 12 months; one federated forecaster (FedAvg, ${ROUNDS} rounds, 2 sites) vs each site's own (${ROUNDS} epochs), same SGD ${JSON.stringify(LOCAL)} ==`,
  );
  console.table(rows);
  console.log(`federated training ${fmt(federatedS, 0)} s`);
}
