import { MlInputError } from '../errors.js';
import { parseDecimal, splitCsvLine } from './csv-fields.js';
import type { RowCounts } from './series-types.js';
import { parseTimestamp } from './timestamp.js';

/** Raw (time, value) points in file order, kept as two growable typed arrays (16 bytes a row, not the row's text). */
export interface RawPoints {
  times: Float64Array;
  values: Float64Array;
  count: number;
}

/** Reads the header, then turns each row into a point or a counted reason for dropping it. */
export class CsvSeriesReader {
  readonly counts: RowCounts = {
    rowsRead: 0,
    rowsUsed: 0,
    blankLines: 0,
    malformedRows: 0,
    badTimestamps: 0,
    emptyValues: 0,
    nonNumericValues: 0,
  };
  timeColumn = '';
  valueColumn = '';
  private timeIndex = -1;
  private valueIndex = -1;
  private times = new Float64Array(1024);
  private values = new Float64Array(1024);

  constructor(private readonly options: { timeColumn?: string; valueColumn?: string; delimiter?: string }) {}

  readonly onLine = (line: string, lineNumber: number): void => {
    if (line.trim() === '') {
      this.counts.blankLines += 1;
      return;
    }
    if (this.timeIndex < 0) {
      this.readHeader(line, lineNumber);
      return;
    }
    this.readRow(line);
  };

  /** The points read so far; throws when the file held no usable row. */
  finish(): RawPoints {
    if (this.timeIndex < 0) throw new MlInputError('empty', 'The file is empty: expected a header row and data rows.');
    const c = this.counts;
    if (c.rowsRead === 0) throw new MlInputError('empty', 'The file has a header but no data rows.');
    if (c.rowsUsed === 0) {
      if (c.badTimestamps >= c.emptyValues + c.nonNumericValues + c.malformedRows) {
        throw new MlInputError(
          'bad-timestamp',
          `No row has a readable timestamp in column "${this.timeColumn}" (expected e.g. 2002-12-31 01:00:00); choose the time column with timeColumn.`,
          { column: this.timeColumn },
        );
      }
      throw new MlInputError(
        'non-numeric',
        `No row has a number in column "${this.valueColumn}"; choose the value column with valueColumn.`,
        {
          column: this.valueColumn,
        },
      );
    }
    return { times: this.times, values: this.values, count: c.rowsUsed };
  }

  private readHeader(line: string, lineNumber: number): void {
    const header = (splitCsvLine(line, this.options.delimiter) ?? []).map((name) => name.trim());
    if (header.length < 2) {
      throw new MlInputError(
        'missing-column',
        `Line ${lineNumber} (the header) has ${header.length} column(s); a time series needs a time and a value column.`,
      );
    }
    if (parseTimestamp(header[0] ?? '') !== null && this.options.timeColumn === undefined) {
      throw new MlInputError('missing-column', 'The first line looks like data, not a header: add a header row such as "timestamp,value".');
    }
    this.timeIndex = this.findColumn(header, this.options.timeColumn, 0);
    this.valueIndex = this.findColumn(header, this.options.valueColumn, 1);
    if (this.timeIndex === this.valueIndex) {
      throw new MlInputError('bad-parameter', `The time and value columns are the same column ("${header[this.timeIndex]}").`);
    }
    this.timeColumn = header[this.timeIndex] ?? '';
    this.valueColumn = header[this.valueIndex] ?? '';
  }

  private findColumn(header: string[], name: string | undefined, fallback: number): number {
    if (name === undefined) return fallback;
    let index = header.indexOf(name);
    if (index < 0) index = header.findIndex((h) => h.toLowerCase() === name.toLowerCase());
    if (index < 0) {
      throw new MlInputError(
        'missing-column',
        `Column "${name}" is not in the header; the columns are: ${header.map((h) => `"${h}"`).join(', ')}.`,
        {
          column: name,
          columns: header,
        },
      );
    }
    return index;
  }

  private readRow(line: string): void {
    const c = this.counts;
    c.rowsRead += 1;
    const fields = splitCsvLine(line, this.options.delimiter);
    const timeText = fields?.[this.timeIndex];
    const valueText = fields?.[this.valueIndex];
    if (timeText === undefined || valueText === undefined) {
      c.malformedRows += 1;
      return;
    }
    const time = parseTimestamp(timeText);
    if (time === null) {
      c.badTimestamps += 1;
      return;
    }
    if (valueText.trim() === '') {
      c.emptyValues += 1;
      return;
    }
    const value = parseDecimal(valueText);
    if (value === null) {
      c.nonNumericValues += 1;
      return;
    }
    if (c.rowsUsed === this.times.length) this.grow();
    this.times[c.rowsUsed] = time;
    this.values[c.rowsUsed] = value;
    c.rowsUsed += 1;
  }

  private grow(): void {
    const times = new Float64Array(this.times.length * 2);
    times.set(this.times);
    this.times = times;
    const values = new Float64Array(this.values.length * 2);
    values.set(this.values);
    this.values = values;
  }
}
