import { describe, expect, it } from 'vitest';
import { MlInputError } from '../errors.js';
import { readDataFile } from '../test-support/data-files.js';
import { ingestTimeSeriesCsv, parseTimeSeriesCsv } from './ingest.js';

const problemOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (error) {
    if (error instanceof MlInputError) return error.problem;
    throw error;
  }
  return undefined;
};

async function* chunksOf(text: string, size: number): AsyncGenerator<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

describe('parseTimeSeriesCsv on the real PJM East rows', () => {
  const text = readDataFile('energy/PJME_hourly_trimmed.csv');
  const series = parseTimeSeriesCsv(text);

  it('sorts, merges the fall-back duplicates and fills the spring-forward gaps', () => {
    const r = series.report;
    expect(r).toMatchObject({ timeColumn: 'Datetime', valueColumn: 'PJME_MW', rowsRead: 35_857, rowsUsed: 35_857, intervalSeconds: 3600 });
    expect(r.outOfOrderRows).toBe(1490);
    expect(r.duplicateRows).toBe(4);
    expect(r.gapsFilled).toBe(4);
    expect(r.pointsFilled).toBe(4);
    expect(r.longGaps).toBe(0);
    expect(r.points).toBe(r.rowsUsed - r.duplicateRows + r.pointsFilled);
    expect(series.start).toBe(Date.UTC(2014, 6, 1) / 1000);
    expect(r.end).toBe(Date.UTC(2018, 7, 3) / 1000);
  });

  it('averages duplicates by default and can keep the first instead', () => {
    // 2014-11-02 02:00 appears twice (22935 then 23755): daylight saving's repeated hour.
    const index = (Date.UTC(2014, 10, 2, 2) / 1000 - series.start) / 3600;
    expect(series.values[index]).toBe((22935 + 23755) / 2);
    const first = parseTimeSeriesCsv(text, { duplicates: 'first' });
    expect(first.values[index]).toBe(22935);
  });

  it('interpolates a missing hour and marks it', () => {
    const index = series.filled.indexOf(1);
    expect(index).toBeGreaterThan(0);
    expect(series.values[index]).toBeCloseTo((series.values[index - 1]! + series.values[index + 1]!) / 2, 6);
  });

  it('gives the same series when the file arrives in chunks', async () => {
    const streamed = await ingestTimeSeriesCsv(chunksOf(text, 4093));
    expect(streamed.report).toEqual(series.report);
    expect(streamed.values).toEqual(series.values);
  });
});

describe('parseTimeSeriesCsv on NAB', () => {
  it('copes with the out-of-order and repeated timestamps of machine_temperature', () => {
    const { report } = parseTimeSeriesCsv(readDataFile('nab/realKnownCause/machine_temperature_system_failure.csv'));
    expect(report).toMatchObject({ intervalSeconds: 300, outOfOrderRows: 1, duplicateRows: 12, pointsFilled: 0 });
  });

  it('marks gaps of days in ambient_temperature as long', () => {
    const series = parseTimeSeriesCsv(readDataFile('nab/realKnownCause/ambient_temperature_system_failure.csv'));
    expect(series.report.longGaps).toBe(7);
    expect(series.report.longestGap).toBe(173);
    expect(series.filled.filter((f) => f === 2).length).toBeGreaterThan(0);
  });
});

describe('bad input', () => {
  it('drops and counts non-numeric values, bad timestamps and short rows', () => {
    const text =
      'time,value\n2020-01-01 00:00,1\n2020-01-01 01:00,abc\n2020-01-01 02:00,\nnot a time,4\n2020-01-01 04:00\n2020-01-01 05:00,6\n2020-01-01 06:00,7\n';
    const { report } = parseTimeSeriesCsv(text);
    expect(report).toMatchObject({ rowsRead: 7, rowsUsed: 3, nonNumericValues: 1, emptyValues: 1, badTimestamps: 1, malformedRows: 1 });
    expect(report.pointsFilled).toBe(4);
  });

  it('chooses columns by name and refuses unknown ones', () => {
    const text = 'id,when,load\n1,2020-01-01 00:00,5\n2,2020-01-01 01:00,6\n';
    expect(parseTimeSeriesCsv(text, { timeColumn: 'when', valueColumn: 'LOAD' }).values).toEqual(Float64Array.of(5, 6));
    expect(problemOf(() => parseTimeSeriesCsv(text, { valueColumn: 'power' }))).toBe('missing-column');
  });

  it('names each problem', () => {
    expect(problemOf(() => parseTimeSeriesCsv(''))).toBe('empty');
    expect(problemOf(() => parseTimeSeriesCsv('time,value\n'))).toBe('empty');
    expect(problemOf(() => parseTimeSeriesCsv('onlyone\n1\n'))).toBe('missing-column');
    expect(problemOf(() => parseTimeSeriesCsv('2020-01-01 00:00,1\n2020-01-01 01:00,2\n'))).toBe('missing-column');
    expect(problemOf(() => parseTimeSeriesCsv('time,value\n2020-01-01 00:00,x\n2020-01-01 01:00,y\n'))).toBe('non-numeric');
    expect(problemOf(() => parseTimeSeriesCsv('value,time\n1,2020-01-01 00:00\n'))).toBe('bad-timestamp');
    expect(problemOf(() => parseTimeSeriesCsv('time,value\n2020-01-01 00:00,1\n'))).toBe('too-short');
    expect(problemOf(() => parseTimeSeriesCsv('time,value\n2020-01-01 00:00,1\n2020-01-01 00:01,1\n2020-01-09 00:00,1\n'))).toBe(
      'too-many-gaps',
    );
  });

  it('refuses a single enormous line after reading only about maxLineLength of it', async () => {
    let chunksRead = 0;
    async function* hugeLine(): AsyncGenerator<string> {
      yield 'time,value\n2020-01-01 00:00,';
      for (let i = 0; i < 100; i++) {
        chunksRead += 1;
        yield '9'.repeat(1 << 20); // 100 chunks of 1 MiB: a 100 MB line
      }
    }
    const error = await ingestTimeSeriesCsv(hugeLine()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MlInputError);
    expect((error as MlInputError).problem).toBe('line-too-long');
    expect((error as MlInputError).message).toMatch(/Line 2 is longer than 65536 characters/);
    expect(chunksRead).toBe(1);
  });

  it('stops reading when aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('cancelled'));
    await expect(ingestTimeSeriesCsv(chunksOf('time,value\n', 4), { signal: controller.signal })).rejects.toThrow('cancelled');
  });
});
