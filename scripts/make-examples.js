// Generates the request files under examples/ from the vendored PJM East series
// (data/energy/PJME_hourly_trimmed.csv), with the same code as `fogline predict --from-csv` and
// `fogline up`'s demo (read from their compiled form in dist/, so run `npm run build` first).
//
//   node scripts/make-examples.js          write examples/pjme-*
//   node scripts/make-examples.js --check  exit 1 when a file is not what this script would write
//
// test/docs/examples.test.ts imports renderExamples() and checks the same thing in CI.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as prettier from 'prettier';
import { forecastRequestAt } from '../dist/ml/forecast/forecast-request.js';
import { parseTimeSeriesCsv } from '../dist/ml/timeseries/ingest.js';

export const EXAMPLES_DIR = fileURLToPath(new URL('../examples/', import.meta.url));
const CSV = fileURLToPath(new URL('../data/energy/PJME_hourly_trimmed.csv', import.meta.url));
/** The served forecaster's contract: a week of hourly history, a day ahead. */
const SHAPE = { window: 168, horizon: 24 };
/** Days in pjme-requests.ndjson, the last one being pjme-request.json's. */
const STREAM_DAYS = 24;

/** JSON as the repository's Prettier settings print it (`npm run lint` checks examples/ too). */
async function prettyJson(value) {
  const options = await prettier.resolveConfig(path.join(EXAMPLES_DIR, 'example.json'));
  return prettier.format(JSON.stringify(value), { ...options, parser: 'json' });
}

/** File name (under examples/) → contents, as this script writes them. */
export async function renderExamples() {
  const series = parseTimeSeriesCsv(fs.readFileSync(CSV, 'utf8'), { timeColumn: 'Datetime', valueColumn: 'PJME_MW' });
  const length = series.values.length;
  // The week before the series' last day, and what that day brought.
  const last = forecastRequestAt(series, length - SHAPE.horizon, SHAPE);
  const days = [];
  for (let day = STREAM_DAYS; day >= 1; day--) days.push(forecastRequestAt(series, length - day * SHAPE.horizon, SHAPE));
  return {
    'pjme-request.json': await prettyJson({ inputs: last.inputs }),
    'pjme-actuals.json': await prettyJson({ start_time: last.startTime, values: last.actual }),
    'pjme-requests.ndjson': days.map((day) => `${JSON.stringify({ inputs: day.inputs })}\n`).join(''),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const [name, text] of Object.entries(await renderExamples())) {
    const file = path.join(EXAMPLES_DIR, name);
    const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
    if (current === text) continue;
    if (check) {
      console.error(`examples/${name} is not what scripts/make-examples.js generates: run node scripts/make-examples.js`);
      stale += 1;
    } else {
      fs.mkdirSync(EXAMPLES_DIR, { recursive: true });
      fs.writeFileSync(file, text);
      console.log(`wrote examples/${name}`);
    }
  }
  if (stale > 0) process.exit(1);
}
