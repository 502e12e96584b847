import fs from 'node:fs';
import type { FederatedDatasetKind } from '../../contracts/federated.js';
import { parseImageCsv } from '../../ml/image/image-csv.js';
import { parseTimeSeriesCsv } from '../../ml/timeseries/ingest.js';

/**
 * What kind of federated data a local file holds, from its first 64 KiB: rows of 64 pixels and a
 * label are digits, time,value rows a load series. The agent tells the control plane, so it is
 * sampled only for jobs it can train; undefined (unreadable, unknown) means it does not say.
 */
export function detectDataKind(file: string): FederatedDatasetKind | undefined {
  let head: string;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const buffer = Buffer.alloc(64 * 1024);
      const read = fs.readSync(fd, buffer, 0, buffer.length, 0);
      head = buffer.subarray(0, read).toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
  // Drop a partial last line.
  const text = head.length === 64 * 1024 ? head.slice(0, head.lastIndexOf('\n') + 1) : head;
  try {
    if (parseImageCsv(text, { height: 8, width: 8 }).report.rowsUsed > 0) return 'digits';
  } catch {
    // not images
  }
  try {
    parseTimeSeriesCsv(text);
    return 'forecast';
  } catch {
    return undefined;
  }
}
