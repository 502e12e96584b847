import fs from 'node:fs';
import type { DatasetVersionView } from '../contracts/datasets.js';
import type { DatasetCatalog } from '../datasets/dataset-catalog.js';
import { ingestTimeSeriesCsv } from '../ml/timeseries/ingest.js';
import type { ValueRange } from './sample-bounds.js';

/** The `source.kind` of a dataset version made from a node's samples. */
export const EDGE_SAMPLES_SOURCE = 'edge-samples';

/**
 * The range of values in the data a person (or a pipeline) put into a dataset: the newest version
 * not made from node samples. Sample uploads are checked against it, so samples can never widen
 * their own band upload after upload. Read once per version (the file is immutable), kept in memory.
 */
export class TrainingRanges {
  private readonly bySha256 = new Map<string, Promise<ValueRange | null>>();

  constructor(private readonly datasets: DatasetCatalog) {}

  async of(latest: DatasetVersionView): Promise<ValueRange | null> {
    const base = await this.baseVersion(latest);
    let range = this.bySha256.get(base.sha256);
    if (!range) {
      range = this.read(base);
      this.bySha256.set(base.sha256, range);
      // A failed read (file gone) is not remembered: the next upload tries again.
      range.catch(() => this.bySha256.delete(base.sha256));
      if (this.bySha256.size > 64) this.bySha256.delete(this.bySha256.keys().next().value as string);
    }
    return range;
  }

  /** The newest version up to `latest` that samples did not make (the first one when all did). */
  private async baseVersion(latest: DatasetVersionView): Promise<DatasetVersionView> {
    if (latest.source.kind !== EDGE_SAMPLES_SOURCE) return latest;
    const older = (await this.datasets.versions(latest.name)).filter((v) => v.version <= latest.version);
    return older.find((v) => v.source.kind !== EDGE_SAMPLES_SOURCE) ?? older.at(-1) ?? latest;
  }

  private async read(view: DatasetVersionView): Promise<ValueRange | null> {
    const read = this.datasets.readOptions(view);
    if (read.kind !== 'timeseries') return null;
    const series = await ingestTimeSeriesCsv(fs.createReadStream(await this.datasets.filePath(view)), {
      timeColumn: read.timeColumn,
      valueColumn: read.valueColumn,
    });
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < series.values.length; i++) {
      if (series.filled[i] !== 0) continue;
      const value = series.values[i]!;
      if (value < min) min = value;
      if (value > max) max = value;
    }
    return min <= max ? { min, max } : null;
  }
}
