import type { SampleRefusalReason } from '../contracts/drift.js';

/**
 * What a node's sample upload may add to a dataset: times after the dataset's last row and not
 * ahead of the control plane's clock by more than a small skew, finite values inside a band
 * learned from the data a person uploaded, and at most a bounded number of grid slots left empty
 * (which reading the dataset would invent by interpolation). Each row is judged on its own, so one
 * bad row never costs the others.
 */

/** The limits, from the server's configuration (`--sample-clock-skew`, `--sample-value-band`, `--sample-gap-limit`). */
export interface SampleLimits {
  /** How far ahead of the control plane's clock a sample's time may be, in seconds. */
  clockSkewSeconds: number;
  /** Values must lie in the training data's [min, max] widened by this times (max − min) on each side. */
  valueBand: number;
  /** Grid slots one upload may leave empty between the dataset's last row and its own rows, and between them. */
  gapLimit: number;
}

export const DEFAULT_SAMPLE_LIMITS: SampleLimits = { clockSkewSeconds: 3600, valueBand: 1, gapLimit: 168 };

/** One refused row: its index in the batch's `samples`, why, and a sentence for people. */
export interface SampleRefusal {
  row: number;
  reason: SampleRefusalReason;
  message: string;
}

/** The smallest and largest measured value of a series (interpolated points left out). */
export interface ValueRange {
  min: number;
  max: number;
}

export interface SampleBounds {
  /** Unix seconds of the dataset's newest row: only later times are new (null: no lower bound but 0). */
  after: number | null;
  /** Unix seconds of the control plane's clock. */
  nowSeconds: number;
  /** The dataset's grid step in seconds (null: unknown, gaps are not counted). */
  intervalSeconds: number | null;
  /** The values of the data a person uploaded (null: no band). */
  range: ValueRange | null;
  limits: SampleLimits;
}

export interface CheckedSamples {
  /** Rows kept, one per time (the batch's last row of a time wins), in time order. */
  accepted: Array<readonly [time: number, value: number]>;
  /** Rows that repeat a time of a later row in the batch (not an error: a resend). */
  repeated: number;
  refused: SampleRefusal[];
}

/**
 * The band values must lie in: the range widened by `factor` × its width on each side; a series
 * that never went below zero (loads, counts) is not allowed to start now.
 *
 * @example
 * valueBand({ min: 20_000, max: 50_000 }, 1) // { low: 0, high: 80_000 }
 */
export function valueBand(range: ValueRange, factor: number): { low: number; high: number } {
  const width = range.max - range.min || Math.abs(range.max) || 1;
  const low = range.min - factor * width;
  return { low: range.min >= 0 ? Math.max(0, low) : low, high: range.max + factor * width };
}

/** Judges every row of an upload against the bounds; never throws on any number. */
export function checkSamples(samples: ReadonlyArray<{ time: number; value: number }>, bounds: SampleBounds): CheckedSamples {
  const { after, nowSeconds, intervalSeconds, range, limits } = bounds;
  const latest = nowSeconds + limits.clockSkewSeconds;
  const band = range ? valueBand(range, limits.valueBand) : null;
  const refused: SampleRefusal[] = [];
  const byTime = new Map<number, { row: number; value: number }>();
  samples.forEach(({ time, value }, row) => {
    const refuse = (reason: SampleRefusalReason, why: string) =>
      refused.push({ row, reason, message: `samples[${row}] (time ${showTime(time)}, value ${value}): ${why}` });
    if (time > latest) {
      refuse('time-in-future', `more than ${limits.clockSkewSeconds} s ahead of the control plane's clock (--sample-clock-skew)`);
    } else if (!(time > (after ?? -1))) {
      refuse('time-not-after-dataset', after === null ? 'before 1970' : `not after the dataset's last row (${showTime(after)})`);
    } else if (!Number.isFinite(value)) {
      refuse('value-not-finite', 'not a finite number');
    } else if (band && (value < band.low || value > band.high)) {
      refuse(
        'value-out-of-band',
        `outside ${round(band.low)} .. ${round(band.high)}, the training data's range widened by ${limits.valueBand}× (--sample-value-band)`,
      );
    } else {
      byTime.set(time, { row, value });
    }
  });
  const repeated = samples.length - refused.length - byTime.size;
  const accepted: Array<readonly [number, number]> = [];
  // Slots between the rows (and after the dataset's last one) that reading the dataset would fill in.
  let previous = after;
  let filled = 0;
  for (const time of [...byTime.keys()].sort((a, b) => a - b)) {
    const { row, value } = byTime.get(time)!;
    const missing = previous === null || !intervalSeconds ? 0 : Math.max(0, Math.round((time - previous) / intervalSeconds) - 1);
    if (filled + missing > limits.gapLimit) {
      refused.push({
        row,
        reason: 'too-many-gaps',
        message: `samples[${row}] (time ${showTime(time)}, value ${value}): ${filled + missing} empty ${intervalSeconds} s slots before it, more than the ${limits.gapLimit} one upload may leave to be filled in (--sample-gap-limit); upload the missing data with fogline datasets push`,
      });
      continue;
    }
    filled += missing;
    previous = time;
    accepted.push([time, value]);
  }
  refused.sort((a, b) => a.row - b.row);
  return { accepted, repeated, refused };
}

/** ISO 8601 for a Unix time a Date can hold; the number itself otherwise (never a RangeError). */
export function showTime(seconds: number): string {
  return Number.isFinite(seconds) && Math.abs(seconds) <= 8.64e12 ? new Date(seconds * 1000).toISOString() : String(seconds);
}

function round(value: number): number {
  return Number(value.toPrecision(6));
}
