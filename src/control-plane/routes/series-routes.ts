import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import fs from 'node:fs';
import { DatasetName } from '../../contracts/datasets.js';
import { SeriesQuery, SeriesView } from '../../contracts/live.js';
import { FoglineError } from '../../errors/fogline-error.js';
import { ingestTimeSeriesCsv } from '../../ml/timeseries/ingest.js';
import type { Services } from '../services.js';
import { ERROR_RESPONSES } from './errors.js';

interface ParsedSeries {
  start: number;
  intervalSeconds: number;
  values: Float32Array | Float64Array;
}

/** Parsed series by sha256: datasets are immutable, so an entry never goes stale. */
const CACHE_ENTRIES = 4;

/**
 * `GET /api/v1/datasets/:name/series`: the last points of a time-series dataset, cleaned the way
 * pipelines read it. The dashboard's predictions-vs-actuals view replays these through the Open
 * Inference Protocol and draws the forecasts beside them.
 */
export function seriesRoutes({ datasets }: Pick<Services, 'datasets'>): FastifyPluginAsyncTypebox {
  const cache = new Map<string, Promise<ParsedSeries>>();

  function parse(sha256: string, file: string, read: { timeColumn?: string; valueColumn?: string }): Promise<ParsedSeries> {
    let entry = cache.get(sha256);
    if (!entry) {
      entry = ingestTimeSeriesCsv(fs.createReadStream(file), { timeColumn: read.timeColumn, valueColumn: read.valueColumn });
      entry.catch(() => cache.delete(sha256));
      cache.set(sha256, entry);
      while (cache.size > CACHE_ENTRIES) cache.delete(cache.keys().next().value as string);
    }
    return entry;
  }

  return async (app) => {
    app.get(
      '/datasets/:name/series',
      {
        config: { access: { minRole: 'viewer' } },
        schema: {
          summary: 'The last points of a time-series dataset (regular grid, as pipelines read it)',
          tags: ['datasets'],
          params: Type.Object({ name: DatasetName }),
          querystring: SeriesQuery,
          response: { 200: SeriesView, ...ERROR_RESPONSES },
        },
      },
      async (request) => {
        const view = await datasets.get(request.params.name, request.query.version);
        if (view.kind !== 'timeseries') {
          throw new FoglineError('FOGLINE_ERR_REQUEST_INVALID', `${view.name}@${view.version} is ${view.kind}, not a time series`);
        }
        const series = await parse(view.sha256, await datasets.filePath(view), datasets.readOptions(view));
        const last = Math.min(request.query.last ?? 24 * 14, series.values.length);
        const from = series.values.length - last;
        return {
          name: view.name,
          version: view.version,
          start: series.start + from * series.intervalSeconds,
          intervalSeconds: series.intervalSeconds,
          values: Array.from(series.values.subarray(from)),
          timeEnd: new Date((series.start + (series.values.length - 1) * series.intervalSeconds) * 1000).toISOString(),
        };
      },
    );
  };
}
