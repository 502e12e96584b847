// Federated learning on the digits set, simulated in one process (no HTTP): `npm run bench:fl`.
// A label-skewed (non-IID) split over CLIENTS clients; FedAvg, FedProx and FedAdam against
// centralised training of the same model with the same optimiser and the same number of passes;
// each again with 30% of the clients dropping out of every round; bytes per round per encoding.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dist = path.join(root, 'dist/ml');
if (!fs.existsSync(path.join(dist, 'federated/index.js'))) {
  console.error('dist/ml/federated is missing: run npm run build first');
  process.exit(1);
}
const ml = await import(path.join(dist, 'index.js'));
const fl = await import(path.join(dist, 'federated/index.js'));
const { stratifiedSplit } = await import(path.join(dist, 'image/stratified-split.js'));
const { runEnergyBench } = await import('./energy.js');

const CLIENTS = Number(process.env.FL_CLIENTS ?? 8);
const ROUNDS = Number(process.env.FL_ROUNDS ?? 60);
const LOCAL = { localEpochs: Number(process.env.FL_EPOCHS ?? 2), batchSize: 16, learningRate: Number(process.env.FL_LR ?? 0.1) };
const MU = Number(process.env.FL_MU ?? 0.01);
const DROPOUT = 0.3;
const fmt = (x, d = 1) => (x === null || Number.isNaN(x) ? '-' : x.toFixed(d));

console.log(
  `Fogline federated-learning bench — Node ${process.version}, ${os.cpus().length} CPU(s), load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
const data = ml.parseImageCsv(fs.readFileSync(path.join(root, 'data/optdigits/optdigits.csv'), 'utf8'), { height: 8, width: 8 });
const spec = fl.digitsModelSpec({ hidden: [64], seed: 1 });
// The union test set: 20% of every class, never seen by any client.
const split = stratifiedSplit(data.labels, 10, 0.2, 0.01, 7);
const pool = Int32Array.from([...split.train, ...split.validation]).sort();
const subset = (rows) => ({
  ...data,
  pixels: Float32Array.from({ length: rows.length * 64 }, (_, i) => data.pixels[rows[Math.floor(i / 64)] * 64 + (i % 64)]),
  labels: Int32Array.from(rows, (r) => data.labels[r]),
});
const test = fl.clientMatrices(spec, subset(split.test), 0.0001, 1);
const testX = { data: new Float32Array([...test.train.x.data, ...test.validation.x.data]), rows: split.test.length, cols: 64 };
const testY = { data: new Float32Array([...test.train.y.data, ...test.validation.y.data]), rows: split.test.length, cols: 10 };
const poolLabels = Int32Array.from(pool, (r) => data.labels[r]);
const parts = fl.labelSkewPartition(poolLabels, CLIENTS, 2, 3).map((rows) => Int32Array.from(rows, (i) => pool[i]));
const clients = parts.map((rows, k) => fl.clientMatrices(spec, subset(rows), 0.15, k + 1));
const clientData = clients;
console.log(
  `${data.labels.length} digits: ${split.test.length} in the union test set, ${pool.length} over ${CLIENTS} clients (2 label shards each):`,
);
console.log(
  parts
    .map(
      (rows, k) =>
        `  client ${k + 1}: ${rows.length} images, classes ${[...new Set(Array.from(rows, (r) => data.labels[r]))].sort().join(',')}`,
    )
    .join('\n'),
);

async function accuracy(weights) {
  return (await fl.evaluateWeights(spec, weights, testX, testY, 'softmax-cross-entropy')).accuracy;
}

/** Rounds of federated training; returns test accuracy per round and the bytes per round. */
async function simulate({ strategy, mu = 0, dropout = 0, encoding = 'float32', seed = 11, secure = false }) {
  if (secure) return simulateSecure({ dropout, seed });
  let global = await fl.initialWeights(spec);
  let state = null;
  let random = seed;
  const rand = () => (random = (random * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const perRound = [];
  let bytes = 0;
  const started = performance.now();
  for (let round = 1; round <= ROUNDS; round++) {
    const updates = [];
    for (let k = 0; k < CLIENTS; k++) {
      if (rand() < dropout) continue; // dropped out: never reports this round
      const result = await fl.trainClientUpdate(spec, global, clients[k], { ...LOCAL, proximalMu: mu, seed: round * 100 + k });
      const frame = fl.encodeUpdate(result.delta, encoding, { examples: result.examples });
      bytes += frame.length;
      const decoded = fl.decodeUpdate(frame);
      if (fl.checkUpdate(decoded.values, global.length, 1e3)) continue;
      updates.push({ delta: decoded.values, examples: result.examples });
    }
    if (updates.length > 0) ({ weights: global, state } = fl.aggregate(strategy, global, updates, state));
    perRound.push(await accuracy(global));
  }
  return { perRound, bytesPerRound: bytes / ROUNDS, seconds: (performance.now() - started) / 1000 };
}

/**
 * FedAvg under secure aggregation: every client shares keys, the dropouts then never send their
 * masked input, and the server recovers only the sum of n·Δ (and of n) from the survivors.
 */
async function simulateSecure({ dropout, seed }) {
  let global = await fl.initialWeights(spec);
  let random = seed;
  const rand = () => (random = (random * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const perRound = [];
  let bytes = 0;
  let cryptoMs = 0;
  const started = performance.now();
  for (let round = 1; round <= ROUNDS; round++) {
    const config = { length: global.length + 1, threshold: Math.ceil(CLIENTS / 2), scaleBits: 12 };
    const t0 = performance.now();
    const clients = Array.from({ length: CLIENTS }, (_, k) => new fl.SecAggClient(k + 1, config));
    const roster = clients.map((c) => c.advertise());
    const boxes = clients.flatMap((c) => c.share(roster));
    bytes += JSON.stringify(roster).length + JSON.stringify(boxes).length;
    cryptoMs += performance.now() - t0;
    const sharedWith = clients.map((c) => c.id);
    const masked = [];
    for (const [k, client] of clients.entries()) {
      if (rand() < dropout) continue;
      const r = await fl.trainClientUpdate(spec, global, clientData[k], { ...LOCAL, seed: round * 100 + k });
      const weighted = new Float64Array(global.length + 1);
      r.delta.forEach((d, i) => (weighted[i] = d * r.examples));
      const t1 = performance.now();
      const ring = fl.toRing(weighted, config.scaleBits);
      ring[global.length] = r.examples; // the count travels as a plain integer, masked like the rest
      masked.push(client.mask(ring, sharedWith));
      cryptoMs += performance.now() - t1;
      bytes += ring.length * 4;
    }
    if (masked.length >= config.threshold) {
      const t2 = performance.now();
      const sentInput = masked.map((m) => m.id);
      const responses = clients.filter((c) => sentInput.includes(c.id)).map((c) => c.unmask(boxes, sharedWith, sentInput));
      bytes += JSON.stringify(responses).length;
      const sum = fl.unmaskSum(config, roster, sharedWith, masked, responses);
      const examples = sum[global.length];
      const mean = fl.fromRing(sum.subarray(0, global.length), config.scaleBits);
      global = Float32Array.from(global, (w, i) => w + mean[i] / examples);
      cryptoMs += performance.now() - t2;
    }
    perRound.push(await accuracy(global));
  }
  return { perRound, bytesPerRound: bytes / ROUNDS, seconds: (performance.now() - started) / 1000, cryptoMsPerRound: cryptoMs / ROUNDS };
}

async function centralised() {
  let weights = await fl.initialWeights(spec);
  const all = clients.reduce((acc, c) => ({
    train: {
      x: { data: new Float32Array([...acc.train.x.data, ...c.train.x.data]), rows: acc.train.x.rows + c.train.x.rows, cols: 64 },
      y: { data: new Float32Array([...acc.train.y.data, ...c.train.y.data]), rows: acc.train.y.rows + c.train.y.rows, cols: 10 },
    },
    validation: c.validation,
    loss: c.loss,
  }));
  const perRound = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const r = await fl.trainClientUpdate(spec, weights, all, { ...LOCAL, seed: round });
    weights = Float32Array.from(weights, (w, i) => w + r.delta[i]);
    perRound.push(await accuracy(weights));
  }
  return { perRound };
}

async function localOnly() {
  const accs = [];
  for (const [k, c] of clients.entries()) {
    let weights = await fl.initialWeights(spec);
    for (let round = 1; round <= ROUNDS; round++) {
      const r = await fl.trainClientUpdate(spec, weights, c, { ...LOCAL, seed: round * 100 + k });
      weights = Float32Array.from(weights, (w, i) => w + r.delta[i]);
    }
    accs.push(await accuracy(weights));
  }
  return accs;
}

const runs = {
  centralised: await centralised(),
  fedavg: await simulate({ strategy: 'fedavg' }),
  fedprox: await simulate({ strategy: 'fedprox', mu: MU }),
  fedadam: await simulate({ strategy: 'fedadam' }),
  'fedavg, 30% drop': await simulate({ strategy: 'fedavg', dropout: DROPOUT }),
  'fedprox, 30% drop': await simulate({ strategy: 'fedprox', mu: MU, dropout: DROPOUT }),
  'fedadam, 30% drop': await simulate({ strategy: 'fedadam', dropout: DROPOUT }),
  'fedavg, float16': await simulate({ strategy: 'fedavg', encoding: 'float16' }),
  'fedavg, q8': await simulate({ strategy: 'fedavg', encoding: 'q8' }),
  'fedavg, secure agg.': await simulate({ strategy: 'fedavg', secure: true }),
  'fedavg, secure agg., 30% drop': await simulate({ strategy: 'fedavg', secure: true, dropout: DROPOUT }),
};
const locals = await localOnly();
const secureMs = runs['fedavg, secure agg.'].cryptoMsPerRound;

console.log(`\n== Test accuracy (%) on the union test set, by round (local: ${JSON.stringify(LOCAL)}, FedProx μ=${MU}) ==`);
const shown = [1, 2, 5, 10, 20, 30, 40, 50, 60, 80, 100].filter((r) => r <= ROUNDS);
if (!shown.includes(ROUNDS)) shown.push(ROUNDS);
console.table(
  Object.fromEntries(
    Object.entries(runs).map(([name, run]) => [name, Object.fromEntries(shown.map((r) => [`r${r}`, fmt(run.perRound[r - 1] * 100)]))]),
  ),
);
const central = runs.centralised.perRound[ROUNDS - 1];
console.log(`\n== After ${ROUNDS} rounds, vs centralised (goal: within 2 points) ==`);
console.table(
  Object.fromEntries(
    Object.entries(runs)
      .filter(([name]) => name !== 'centralised')
      .map(([name, run]) => {
        const final = run.perRound[ROUNDS - 1];
        return [
          name,
          {
            'accuracy %': fmt(final * 100),
            'centralised %': fmt(central * 100),
            'gap (points)': fmt((central - final) * 100),
            'within 2 points': central - final <= 0.02 ? 'yes' : 'no',
            'update KiB per round': fmt(run.bytesPerRound / 1024),
            s: fmt(run.seconds),
          },
        ];
      }),
  ),
);
const f32 = runs.fedavg.bytesPerRound;
console.log(
  `Bytes per round (all ${CLIENTS} clients report, ${await fl.weightCount(spec)} weights): float32 ${Math.round(f32)}, float16 ${Math.round(
    runs['fedavg, float16'].bytesPerRound,
  )} (${fmt(f32 / runs['fedavg, float16'].bytesPerRound, 2)}x smaller), q8 ${Math.round(runs['fedavg, q8'].bytesPerRound)} (${fmt(
    f32 / runs['fedavg, q8'].bytesPerRound,
    2,
  )}x smaller)`,
);
console.log(
  `Secure aggregation (pairwise masks, Shamir threshold ${Math.ceil(CLIENTS / 2)} of ${CLIENTS}): ${Math.round(
    runs['fedavg, secure agg.'].bytesPerRound,
  )} bytes per round (keys, encrypted shares, masked inputs, unmasking), ${fmt(
    runs['fedavg, secure agg.'].bytesPerRound / runs.fedavg.bytesPerRound,
    2,
  )}x float32; ${fmt(secureMs, 0)} ms of protocol work per round in one process.`,
);
console.log(
  `A synchronous aggregator that waits for every client (Sedna's federated learning) completes no round once any client drops: with ${
    DROPOUT * 100
  }% of ${CLIENTS} clients dropping each round, a round has everyone with probability ${fmt((1 - DROPOUT) ** CLIENTS * 100)}%.`,
);
console.log(
  `Local-only models (each client trains alone for the same passes) on the union test set: ${locals
    .map((a) => fmt(a * 100))
    .join(', ')} % (best ${fmt(Math.max(...locals) * 100)} %)`,
);

if (process.env.FL_ENERGY !== '0') await runEnergyBench({ ml, fl, root, fmt });
