import { createHash } from 'node:crypto';
import type { RegularSeries } from '../timeseries/series-types.js';

/** Identifies the exact data a model was trained on, independent of the file's formatting. */
export interface DataFingerprint {
  /** sha256 over the data's canonical binary form (see the functions below). */
  sha256: string;
  points: number;
  start?: number;
  end?: number;
  intervalSeconds?: number;
}

function bytesOf(array: ArrayBufferView): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

/** sha256 over start, interval (float64 LE) and the cleaned values (float64 LE). */
export function seriesFingerprint(series: RegularSeries): DataFingerprint {
  const hash = createHash('sha256');
  hash.update(bytesOf(Float64Array.of(series.start, series.intervalSeconds)));
  hash.update(bytesOf(series.values));
  return {
    sha256: hash.digest('hex'),
    points: series.values.length,
    start: series.start,
    end: series.start + (series.values.length - 1) * series.intervalSeconds,
    intervalSeconds: series.intervalSeconds,
  };
}

/** sha256 over the pixels (float32 LE) followed by the labels (int32 LE). */
export function arraysFingerprint(features: Float32Array, labels: Int32Array): DataFingerprint {
  const hash = createHash('sha256');
  hash.update(bytesOf(features));
  hash.update(bytesOf(labels));
  return { sha256: hash.digest('hex'), points: labels.length };
}
