import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MlInputError } from '../errors.js';
import { ingestTimeSeriesCsv, parseTimeSeriesCsv } from './ingest.js';
import type { IngestedSeries } from './series-types.js';

const HOUR = 3600;
const BASE = Date.UTC(2020, 0, 1) / 1000;
const stamp = (seconds: number): string => new Date(seconds * 1000).toISOString().slice(0, 19).replace('T', ' ');

/** A row as real files get them wrong: good, shuffled, duplicated, off-grid, or with junk in it. */
const row = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(fc.integer({ min: 0, max: 200 }), fc.double({ min: -1e6, max: 1e6, noNaN: true }))
      .map(([h, v]) => `${stamp(BASE + h * HOUR)},${v}`),
  },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 200 }).map((h) => `${stamp(BASE + h * HOUR)},n/a`) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 200 }).map((h) => `${stamp(BASE + h * HOUR)},`) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 200 }).map((h) => `${stamp(BASE + h * HOUR + 7)},1`) },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 1, arbitrary: fc.constant('') },
);
const csv = fc
  .tuple(fc.array(row, { maxLength: 120 }), fc.constantFrom('\n', '\r\n'))
  .map(([rows, eol]) => ['time,value', ...rows].join(eol));

function parseOrProblem(text: string): IngestedSeries | MlInputError {
  try {
    return parseTimeSeriesCsv(text);
  } catch (error) {
    if (error instanceof MlInputError) return error;
    throw error;
  }
}

describe('parseTimeSeriesCsv properties', () => {
  it('never crashes on arbitrary text: it returns a series or an MlInputError', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (text) => {
        parseOrProblem(text);
      }),
      { numRuns: 300 },
    );
  });

  it('reports counts that add up, and a regular series of finite values', () => {
    fc.assert(
      fc.property(csv, (text) => {
        const result = parseOrProblem(text);
        if (result instanceof MlInputError) return;
        const r = result.report;
        expect(r.rowsRead).toBe(r.rowsUsed + r.malformedRows + r.badTimestamps + r.emptyValues + r.nonNumericValues);
        expect(r.points).toBe(r.rowsUsed - r.duplicateRows + r.pointsFilled);
        expect(result.values.length).toBe(r.points);
        expect(result.filled.filter((f) => f > 0).length).toBe(r.pointsFilled);
        expect(result.values.every(Number.isFinite)).toBe(true);
        expect(r.end - r.start).toBe((r.points - 1) * r.intervalSeconds);
      }),
      { numRuns: 200 },
    );
  });

  it('gives the same result however the bytes are chunked', async () => {
    await fc.assert(
      fc.asyncProperty(csv, fc.integer({ min: 1, max: 64 }), async (text, size) => {
        const whole = parseOrProblem(text);
        const bytes = new TextEncoder().encode(text);
        async function* chunks(): AsyncGenerator<Uint8Array> {
          for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
        }
        const streamed = await ingestTimeSeriesCsv(chunks()).catch((e: unknown) => e);
        if (whole instanceof MlInputError) {
          expect((streamed as MlInputError).problem).toBe(whole.problem);
        } else {
          expect((streamed as IngestedSeries).report).toEqual(whole.report);
          expect((streamed as IngestedSeries).values).toEqual(whole.values);
        }
      }),
      { numRuns: 100 },
    );
  });
});
