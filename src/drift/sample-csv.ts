import fs from 'node:fs';
import type { DatasetReadOptions } from '../datasets/dataset-reader.js';
import { FoglineError } from '../errors/fogline-error.js';

/**
 * The text that appends `samples` (Unix seconds and value, in time order) to a two-column
 * time-series CSV, written the way the file writes its own rows (column order, time format, final newline).
 * `label` names the dataset version in the refusal when the file is not such a series.
 */
export async function csvRowsToAppend(
  file: string,
  read: DatasetReadOptions,
  label: string,
  samples: readonly (readonly [seconds: number, value: number])[],
): Promise<string> {
  const { header, lastLine, endsWithNewline } = await edges(file);
  const columns = header.split(',').map((c) => c.trim().replace(/^"|"$/g, ''));
  if (
    columns.length !== 2 ||
    !read.timeColumn ||
    !read.valueColumn ||
    !columns.includes(read.timeColumn) ||
    !columns.includes(read.valueColumn)
  ) {
    throw new FoglineError(
      'FOGLINE_ERR_DRIFT_SAMPLES_REFUSED',
      `${label} is not a two-column time series (${read.timeColumn ?? '?'}, ${read.valueColumn ?? '?'}): samples cannot be appended`,
    );
  }
  const formatTime = timeFormatLike(lastLine.split(',')[columns.indexOf(read.timeColumn)] ?? '');
  const timeFirst = columns[0] === read.timeColumn;
  const rows = samples.map(([t, value]) => {
    const time = formatTime(t);
    return timeFirst ? `${time},${value}` : `${value},${time}`;
  });
  return `${endsWithNewline ? '' : '\n'}${rows.join('\n')}\n`;
}

/** The header and the last line of a CSV, read from its two ends (it may be large). */
async function edges(file: string): Promise<{ header: string; lastLine: string; endsWithNewline: boolean }> {
  const handle = await fs.promises.open(file, 'r');
  try {
    const { size } = await handle.stat();
    const head = Buffer.alloc(Math.min(size, 65_536));
    await handle.read(head, 0, head.length, 0);
    const tail = Buffer.alloc(Math.min(size, 65_536));
    await handle.read(tail, 0, tail.length, size - tail.length);
    const tailText = tail.toString('utf8');
    const lines = tailText.split(/\r?\n/).filter((l) => l.trim() !== '');
    return {
      header: head.toString('utf8').split(/\r?\n/)[0] ?? '',
      lastLine: lines.at(-1) ?? '',
      endsWithNewline: tailText.endsWith('\n'),
    };
  } finally {
    await handle.close();
  }
}

/** Writes Unix seconds the way the dataset writes its times: "2018-08-03 00:00:00", ISO 8601, or Unix seconds. */
function timeFormatLike(example: string): (seconds: number) => string {
  const text = example.trim().replace(/^"|"$/g, '');
  if (/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(text)) return (s) => new Date(s * 1000).toISOString().slice(0, 19).replace('T', ' ');
  if (/^\d+(\.\d+)?$/.test(text)) return (s) => String(s);
  return (s) => new Date(s * 1000).toISOString();
}
