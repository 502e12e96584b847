/** A series on a regular time grid: point i is at `start + i * intervalSeconds` (Unix seconds). */
export interface RegularSeries {
  start: number;
  intervalSeconds: number;
  values: Float64Array;
  /** Per point: 0 measured, 1 interpolated in a short gap, 2 interpolated in a long gap (not trusted for training or scoring). */
  filled: Uint8Array;
}

export type DuplicatePolicy = 'mean' | 'first';

export interface IngestOptions {
  /** Header name of the time column; default: the first column. */
  timeColumn?: string;
  /** Header name of the value column; default: the second column. */
  valueColumn?: string;
  delimiter?: string;
  /** Longest accepted line in characters (default 65,536); longer lines are refused, not buffered. */
  maxLineLength?: number;
  /** Grid step; default: the most common step between consecutive timestamps. */
  intervalSeconds?: number;
  /** Rows that land on the same grid slot (daylight-saving fall-back): average them (default) or keep the first by time, then file order. */
  duplicates?: DuplicatePolicy;
  /** Gaps up to this many missing slots are interpolated and trusted (default 24); longer ones are interpolated but marked `filled = 2`. */
  maxInterpolatedGap?: number;
  /** Refuse the series when more than this share of its slots had to be invented (default 0.5). */
  maxFilledFraction?: number;
  /** Called every 64k rows while reading. */
  onProgress?: (progress: { rows: number; lines: number }) => void;
  signal?: AbortSignal;
}

/** Rows read from the CSV and why some gave no point. rowsRead = rowsUsed + malformedRows + badTimestamps + emptyValues + nonNumericValues. */
export interface RowCounts {
  /** Data lines after the header, blank lines excluded. */
  rowsRead: number;
  /** Rows that gave a (time, value) point. */
  rowsUsed: number;
  blankLines: number;
  /** Too few fields, or a quote that never closes. */
  malformedRows: number;
  badTimestamps: number;
  emptyValues: number;
  nonNumericValues: number;
}

/** What putting the points on a regular grid had to fix. */
export interface RegularizeCounts {
  /** Rows whose timestamp is earlier than the row before them (the energy files are not sorted). */
  outOfOrderRows: number;
  /** Rows merged into another row of the same grid slot. */
  duplicateRows: number;
  /** Rows moved to the nearest grid slot because their timestamp was off the grid. */
  offGridRows: number;
  /** Runs of missing slots filled by linear interpolation, and how many points that added. */
  gapsFilled: number;
  pointsFilled: number;
  /** Gaps longer than maxInterpolatedGap; their points are marked untrusted. */
  longGaps: number;
  longestGap: number;
  intervalSeconds: number;
  intervalInferred: boolean;
}

/** What ingestion found and fixed, for the user to see. */
export interface IngestReport extends RowCounts, RegularizeCounts {
  timeColumn: string;
  valueColumn: string;
  duplicatePolicy: DuplicatePolicy;
  /** The cleaned series: number of points, first and last timestamp (Unix seconds). */
  points: number;
  start: number;
  end: number;
}

export interface IngestedSeries extends RegularSeries {
  report: IngestReport;
}
