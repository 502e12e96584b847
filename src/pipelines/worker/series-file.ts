import type { RegularSeries } from '../../ml/timeseries/series-types.js';

/** A regular series as bytes: a JSON header, then the float64 values and the fill marks. */
export function encodeSeries(series: RegularSeries): Uint8Array {
  const header = Buffer.from(
    JSON.stringify({ start: series.start, intervalSeconds: series.intervalSeconds, length: series.values.length }),
  );
  const out = Buffer.alloc(4 + header.length + series.values.length * 8 + series.filled.length);
  out.writeUInt32LE(header.length, 0);
  header.copy(out, 4);
  const valuesAt = 4 + header.length;
  Buffer.from(series.values.buffer, series.values.byteOffset, series.values.byteLength).copy(out, valuesAt);
  Buffer.from(series.filled.buffer, series.filled.byteOffset, series.filled.byteLength).copy(out, valuesAt + series.values.byteLength);
  return out;
}

export function decodeSeries(bytes: Buffer): RegularSeries {
  const headerLength = bytes.readUInt32LE(0);
  const header = JSON.parse(bytes.subarray(4, 4 + headerLength).toString()) as { start: number; intervalSeconds: number; length: number };
  const valuesAt = 4 + headerLength;
  const values = new Float64Array(header.length);
  Buffer.from(values.buffer).set(bytes.subarray(valuesAt, valuesAt + header.length * 8));
  const filled = new Uint8Array(bytes.subarray(valuesAt + header.length * 8, valuesAt + header.length * 9));
  return { start: header.start, intervalSeconds: header.intervalSeconds, values, filled };
}
