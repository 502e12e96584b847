import fs from 'node:fs';
import type { DatasetKind } from '../contracts/datasets.js';
import { FoglineError } from '../errors/fogline-error.js';
import { isMlInputError } from '../ml/errors.js';
import { parseImageCsv } from '../ml/image/image-csv.js';
import { ingestTimeSeriesCsv } from '../ml/timeseries/ingest.js';

/** How a dataset's CSV is read: fixed at upload, kept with the version, reused by pipelines. */
export interface DatasetReadOptions {
  kind: DatasetKind;
  timeColumn?: string;
  valueColumn?: string;
  imageHeight?: number;
  imageWidth?: number;
  imageChannels?: number;
}

export interface DatasetSummaryFacts {
  schema: Record<string, unknown>;
  rowCount: number;
  timeStart: number | null;
  timeEnd: number | null;
  report: Record<string, unknown>;
}

/** Reads a stored CSV the way its kind says, and sums up what it holds; bad data is a coded 400. */
export async function describeDatasetFile(file: string, options: DatasetReadOptions): Promise<DatasetSummaryFacts> {
  try {
    if (options.kind === 'timeseries') {
      const series = await ingestTimeSeriesCsv(fs.createReadStream(file), {
        timeColumn: options.timeColumn,
        valueColumn: options.valueColumn,
      });
      const { report } = series;
      return {
        schema: {
          kind: 'timeseries',
          timeColumn: report.timeColumn,
          valueColumn: report.valueColumn,
          intervalSeconds: report.intervalSeconds,
        },
        rowCount: report.rowsRead,
        timeStart: report.start * 1000,
        timeEnd: report.end * 1000,
        report: { ...report },
      };
    }
    if (!options.imageHeight || !options.imageWidth) {
      throw new FoglineError(
        'FOGLINE_ERR_DATASET_INVALID',
        'An image-csv dataset needs its image size: --image-size HEIGHTxWIDTH (8x8 for optdigits)',
      );
    }
    const images = parseImageCsv(await fs.promises.readFile(file, 'utf8'), {
      height: options.imageHeight,
      width: options.imageWidth,
      channels: options.imageChannels ?? 1,
    });
    return {
      schema: { kind: 'image-csv', height: images.height, width: images.width, channels: images.channels, classes: images.classNames },
      rowCount: images.report.rowsRead,
      timeStart: null,
      timeEnd: null,
      report: { ...images.report, classCount: images.classNames.length },
    };
  } catch (error) {
    if (isMlInputError(error)) {
      throw new FoglineError('FOGLINE_ERR_DATASET_INVALID', error.message, { problem: error.problem, ...error.details });
    }
    throw error;
  }
}
