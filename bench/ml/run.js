// All ML benchmarks in one run: `npm run build && node bench/ml/run.js`.
import os from 'node:os';
import { runAnomalyBench } from './anomaly.js';
import { runDigitsBench } from './digits.js';
import { runForecastBench } from './forecast.js';

console.log(
  `Fogline ML benchmarks — Node ${process.version}, ${os.cpus().length} CPU(s) (${os.cpus()[0]?.model ?? 'unknown'}), load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
await runForecastBench();
await runDigitsBench();
await runAnomalyBench();
