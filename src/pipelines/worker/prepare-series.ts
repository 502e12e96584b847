import fs from 'node:fs';
import { ingestTimeSeriesCsv } from '../../ml/timeseries/ingest.js';
import type { RegularSeries } from '../../ml/timeseries/series-types.js';
import { decodeSeries, encodeSeries } from './series-file.js';
import { StepCache } from './step-cache.js';
import type { StepContext } from './step-context.js';
import type { ToWorker } from './worker-protocol.js';

/** The prepare step of every time-series pipeline: read and clean the dataset once, cached by its digest. */
export async function prepareSeries(
  run: Extract<ToWorker, { type: 'run' }>,
  ctx: StepContext,
): Promise<{ key: string; series: RegularSeries }> {
  const key = StepCache.key({ step: 'timeseries-prepare', dataset: run.dataset.sha256, read: run.dataset.read, code: run.codeVersion });
  const prepared = await ctx.step(
    'prepare',
    key,
    ['series.bin', 'report.json'],
    async () => {
      ctx.log('prepare', 'Reading and cleaning the series');
      const series = await ingestTimeSeriesCsv(fs.createReadStream(run.dataset.file), {
        timeColumn: run.dataset.read.timeColumn,
        valueColumn: run.dataset.read.valueColumn,
        signal: ctx.signal,
      });
      return { 'series.bin': encodeSeries(series), 'report.json': JSON.stringify(series.report) };
    },
    (files) => {
      const report = JSON.parse(files['report.json'].toString()) as Record<string, number>;
      return {
        points: report.points,
        pointsFilled: report.pointsFilled,
        duplicateRows: report.duplicateRows,
        outOfOrderRows: report.outOfOrderRows,
      };
    },
  );
  return { key, series: decodeSeries(prepared['series.bin']) };
}
