import type { ForecasterShape } from '../inference/forecaster-shape.js';
import { isMlInputError } from '../ml/errors.js';
import { type ForecastInput, forecastRequestAt } from '../ml/forecast/forecast-request.js';
import { parseTimeSeriesCsv } from '../ml/timeseries/ingest.js';
import { formatTimestamp, parseTimestamp } from '../ml/timeseries/timestamp.js';

export interface CsvForecastOptions {
  /** The file's name, for messages. */
  file: string;
  timeColumn?: string;
  valueColumn?: string;
  /** The first time to forecast (`YYYY-MM-DD HH:MM[:SS]`, ISO 8601, or Unix seconds); default: the series' last `horizon` points. */
  at?: string;
}

export interface CsvForecastRequest {
  request: { inputs: ForecastInput[] };
  /** One line for the user: which points went into the request. */
  description: string;
  /** History points that ingestion had to interpolate (a missing hour, a daylight-saving gap). */
  interpolated: number;
}

/**
 * Builds a forecaster's V2 request from a time-series CSV: the `window` points before `at`
 * (default: before the series' last `horizon` points, so that what happened next is in the file).
 * Refuses a file with rows it cannot read, too few points, or a history across a long gap.
 */
export function forecastRequestFromCsv(text: string, shape: ForecasterShape, options: CsvForecastOptions): CsvForecastRequest {
  const { file } = options;
  let series;
  try {
    series = parseTimeSeriesCsv(text, {
      ...(options.timeColumn === undefined ? {} : { timeColumn: options.timeColumn }),
      ...(options.valueColumn === undefined ? {} : { valueColumn: options.valueColumn }),
    });
  } catch (error) {
    if (isMlInputError(error)) throw new Error(`${file}: ${error.message}`);
    throw error;
  }
  const { report } = series;
  const unreadable = report.malformedRows + report.badTimestamps + report.emptyValues + report.nonNumericValues;
  if (unreadable > 0) {
    const why = [
      [report.malformedRows, 'too few fields'],
      [report.badTimestamps, `no readable time in "${report.timeColumn}"`],
      [report.emptyValues, `an empty "${report.valueColumn}"`],
      [report.nonNumericValues, `no number in "${report.valueColumn}"`],
    ]
      .filter(([count]) => (count as number) > 0)
      .map(([count, reason]) => `${count} with ${reason}`)
      .join(', ');
    throw new Error(
      `${file}: ${unreadable} of ${report.rowsRead} rows cannot be read (${why}); fix them, or choose the columns with --time-column and --value-column`,
    );
  }
  const length = series.values.length;
  const { window, horizon } = shape;
  const span = `${length} points, ${formatTimestamp(report.start)} .. ${formatTimestamp(report.end)}`;
  let origin: number;
  if (options.at === undefined) {
    origin = length - horizon;
    if (origin < window) {
      throw new Error(
        `${file} has ${span}; the default request (the ${window} points before the last ${horizon}) needs ${window + horizon}: ` +
          `use a longer file, or --at a time at least ${window} points after its start`,
      );
    }
  } else {
    const at = parseTimestamp(options.at);
    if (at === null) throw new Error(`--at must be a time such as 2018-08-02T01:00:00Z or "2018-08-02 01:00", got "${options.at}"`);
    origin = (at - series.start) / series.intervalSeconds;
    if (!Number.isInteger(origin)) {
      throw new Error(
        `--at ${formatTimestamp(at)} is not on the series' grid (every ${series.intervalSeconds} s from ${formatTimestamp(series.start)})`,
      );
    }
  }
  let made;
  try {
    made = forecastRequestAt(series, origin, shape);
  } catch (error) {
    if (isMlInputError(error)) throw new Error(`${file} has ${span}: ${error.message}`);
    throw error;
  }
  const untrusted = made.filled.filter((f) => f === 2).length;
  if (untrusted > 0) {
    throw new Error(
      `${file}: ${untrusted} of the ${window} history points before ${formatTimestamp(made.startTime)} lie in a long gap of missing rows (interpolated, not measured); choose another --at`,
    );
  }
  const interpolated = made.filled.filter((f) => f === 1).length;
  const from = formatTimestamp(made.startTime - window * series.intervalSeconds);
  const to = formatTimestamp(made.startTime - series.intervalSeconds);
  return {
    request: { inputs: made.inputs },
    description:
      `${file}: history ${from} .. ${to} (${window} points` +
      `${interpolated > 0 ? `, ${interpolated} interpolated` : ''}), forecast from ${formatTimestamp(made.startTime)}`,
    interpolated,
  };
}
