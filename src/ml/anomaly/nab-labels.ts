import { MlInputError } from '../errors.js';
import type { TimeWindow } from '../metrics/anomaly-metrics.js';
import { parseTimestamp } from '../timeseries/timestamp.js';

/**
 * Reads NAB's combined_windows.json (`{"realKnownCause/x.csv": [["2013-12-15 07:00:00.000000", "…"], …]}`)
 * and returns one file's labelled windows in Unix seconds. `file` may be the full key or its last part.
 */
export function parseNabWindows(json: string, file: string): TimeWindow[] {
  let all: Record<string, unknown>;
  try {
    all = JSON.parse(json);
  } catch {
    throw new MlInputError('bad-input', 'The label file is not valid JSON.');
  }
  const key = Object.keys(all).find((k) => k === file || k.endsWith(`/${file}`));
  if (key === undefined) throw new MlInputError('bad-input', `The label file has no entry for "${file}".`);
  const windows = all[key];
  if (!Array.isArray(windows)) throw new MlInputError('bad-input', `Labels for "${key}" are not a list of [start, end] pairs.`);
  return windows.map((pair, i) => {
    const start = Array.isArray(pair) ? parseTimestamp(String(pair[0])) : null;
    const end = Array.isArray(pair) ? parseTimestamp(String(pair[1])) : null;
    if (start === null || end === null || end < start)
      throw new MlInputError('bad-input', `Label window ${i} of "${key}" is not a [start, end] pair of timestamps.`);
    return { start, end };
  });
}
