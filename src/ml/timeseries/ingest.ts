import { CsvSeriesReader } from './csv-series-reader.js';
import { DEFAULT_MAX_LINE_LENGTH, LineSplitter } from './line-reader.js';
import { regularize } from './regularize.js';
import type { IngestedSeries, IngestOptions, IngestReport } from './series-types.js';

const PROGRESS_EVERY_ROWS = 65_536;

function makeReader(options: IngestOptions): { reader: CsvSeriesReader; splitter: LineSplitter } {
  const reader = new CsvSeriesReader(options);
  let nextProgress = PROGRESS_EVERY_ROWS;
  const splitter = new LineSplitter((line, lineNumber) => {
    reader.onLine(line, lineNumber);
    if (options.onProgress && lineNumber >= nextProgress) {
      nextProgress += PROGRESS_EVERY_ROWS;
      options.onProgress({ rows: reader.counts.rowsRead, lines: lineNumber });
    }
  }, options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH);
  return { reader, splitter };
}

function finish(reader: CsvSeriesReader, options: IngestOptions): IngestedSeries {
  const { series, counts } = regularize(reader.finish(), options);
  const report: IngestReport = {
    timeColumn: reader.timeColumn,
    valueColumn: reader.valueColumn,
    ...reader.counts,
    ...counts,
    duplicatePolicy: options.duplicates ?? 'mean',
    points: series.values.length,
    start: series.start,
    end: series.start + (series.values.length - 1) * series.intervalSeconds,
  };
  return { ...series, report };
}

/**
 * Reads a time-series CSV held in memory: header row, a time and a value column, rows in any
 * order. Returns the cleaned regular series and a report of what was fixed.
 *
 * @example
 * const { values, start, report } = parseTimeSeriesCsv(text, { valueColumn: 'PJME_MW' });
 * console.log(report.duplicateRows, report.pointsFilled);
 */
export function parseTimeSeriesCsv(text: string, options: IngestOptions = {}): IngestedSeries {
  options.signal?.throwIfAborted();
  const { reader, splitter } = makeReader(options);
  splitter.push(text);
  splitter.end();
  return finish(reader, options);
}

/**
 * The streaming form of {@link parseTimeSeriesCsv}: takes text or bytes in chunks (a file stream,
 * an HTTP body) and keeps only the parsed points, 16 bytes a row, never the whole text.
 *
 * @example
 * const series = await ingestTimeSeriesCsv(fs.createReadStream(path), { timeColumn: 'Datetime' });
 */
export async function ingestTimeSeriesCsv(
  chunks: AsyncIterable<string | Uint8Array>,
  options: IngestOptions = {},
): Promise<IngestedSeries> {
  const { reader, splitter } = makeReader(options);
  for await (const chunk of chunks) {
    options.signal?.throwIfAborted();
    splitter.push(chunk);
  }
  splitter.end();
  return finish(reader, options);
}
