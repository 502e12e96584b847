// Where the benchmarks find their data: the full series in ../shared/datasets when this checkout has
// it beside it, else the trimmed copies vendored in data/ (see each folder's PROVENANCE.md).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SHARED = path.resolve(ROOT, '../shared/datasets');
const VENDORED = path.join(ROOT, 'data');

export const usingShared = fs.existsSync(SHARED) && process.env.FOGLINE_BENCH_DATA !== 'vendored';

/** Energy series by name ('PJME', 'AEP'); null when only the vendored copy exists and it lacks the series. */
export function energyFile(name) {
  const file = usingShared ? path.join(SHARED, `energy/${name}_hourly.csv`) : path.join(VENDORED, `energy/${name}_hourly_trimmed.csv`);
  return fs.existsSync(file) ? file : null;
}

export function digitsFile() {
  return usingShared ? path.join(SHARED, 'optdigits/optdigits.tes.csv') : path.join(VENDORED, 'optdigits/optdigits.csv');
}

/** NAB realKnownCause files present, and the windows file that labels them. */
export function nabFiles() {
  const base = usingShared ? path.join(SHARED, 'nab') : path.join(VENDORED, 'nab');
  const dir = path.join(base, 'realKnownCause');
  return {
    files: fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.csv'))
      .sort()
      .map((f) => path.join(dir, f)),
    windows: path.join(base, 'labels/combined_windows.json'),
  };
}

export function dataSource() {
  return usingShared ? `../shared/datasets (full series)` : 'data/ (vendored, trimmed)';
}

/** The compiled library; `npm run build` (tsc -p tsconfig.build.json) writes it. */
export async function loadLibrary() {
  const entry = path.join(ROOT, 'dist/ml/index.js');
  if (!fs.existsSync(entry)) {
    console.error('dist/ml is missing: run `npm run build` first.');
    process.exit(1);
  }
  return import(entry);
}

export const fmt = (x, digits = 2) => (x === undefined || x === null ? '—' : Number(x).toFixed(digits));
