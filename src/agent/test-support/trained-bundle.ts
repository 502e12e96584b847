import { trainForecaster } from '../../ml/forecast/train-forecaster.js';
import { readDataFile } from '../../ml/test-support/data-files.js';
import { parseTimeSeriesCsv } from '../../ml/timeseries/ingest.js';

let trained: Promise<Uint8Array> | undefined;

/** A real forecaster bundle, trained once per test file on six weeks of the vendored PJM series (a few seconds). */
export function trainedBundle(): Promise<Uint8Array> {
  trained ??= (async () => {
    const full = parseTimeSeriesCsv(readDataFile('energy/PJME_hourly_trimmed.csv'));
    const points = 6 * 168;
    const series = {
      start: full.start + (full.values.length - points) * 3600,
      intervalSeconds: 3600,
      values: full.values.slice(-points),
      filled: full.filled.slice(-points),
    };
    const { bundle } = await trainForecaster(series, {
      hidden: [8],
      epochs: 1,
      testPoints: 7 * 24,
      validationFraction: 0.15,
      batchSize: 64,
    });
    return bundle;
  })();
  return trained;
}
