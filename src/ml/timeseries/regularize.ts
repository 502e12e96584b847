import { MlInputError } from '../errors.js';
import type { RawPoints } from './csv-series-reader.js';
import type { DuplicatePolicy, RegularizeCounts, RegularSeries } from './series-types.js';

export interface RegularizeOptions {
  intervalSeconds?: number;
  duplicates?: DuplicatePolicy;
  maxInterpolatedGap?: number;
  maxFilledFraction?: number;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** The most common value (ties: the smallest); used for the grid step and the grid phase. */
function mode(values: Iterable<number>): number | undefined {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: number | undefined;
  let bestCount = 0;
  for (const [v, n] of counts) {
    if (n > bestCount || (n === bestCount && best !== undefined && v < best)) {
      best = v;
      bestCount = n;
    }
  }
  return best;
}

function* positiveSteps(times: Float64Array, order: Uint32Array): Generator<number> {
  for (let i = 1; i < order.length; i++) {
    const step = round3(times[order[i]!]! - times[order[i - 1]!]!);
    if (step > 0) yield step;
  }
}

/**
 * Puts raw points in time order on a regular grid: sorts, merges rows that share a slot, snaps
 * off-grid timestamps to the nearest slot and fills missing slots by linear interpolation.
 */
export function regularize(points: RawPoints, options: RegularizeOptions = {}): { series: RegularSeries; counts: RegularizeCounts } {
  const { times, values, count } = points;
  const duplicates = options.duplicates ?? 'mean';
  const maxGap = options.maxInterpolatedGap ?? 24;
  const maxFilledFraction = options.maxFilledFraction ?? 0.5;

  let outOfOrderRows = 0;
  for (let i = 1; i < count; i++) if (times[i]! < times[i - 1]!) outOfOrderRows += 1;

  // A stable sort keeps file order among equal timestamps, which is what 'first' means.
  const order = Uint32Array.from({ length: count }, (_, i) => i).sort((a, b) => times[a]! - times[b]! || a - b);
  const interval = options.intervalSeconds ?? mode(positiveSteps(times, order));
  if (interval === undefined || !(interval > 0)) {
    throw new MlInputError('too-short', 'The series needs at least two distinct timestamps to find its interval.', { rows: count });
  }
  // The grid's phase is the most common offset, so one misaligned first row does not shift every slot.
  const phase = mode(Array.from(order, (i) => round3(((times[i]! % interval) + interval) % interval))) ?? 0;
  const slotOf = (t: number): number => Math.round((t - phase) / interval);
  const firstSlot = slotOf(times[order[0]!]!);
  const length = slotOf(times[order[count - 1]!]!) - firstSlot + 1;
  if (length > count / (1 - maxFilledFraction) + 1) {
    throw new MlInputError(
      'too-many-gaps',
      `At a ${interval} s interval the series would span ${length} points but only ${count} rows have values: ` +
        `more than ${Math.round(maxFilledFraction * 100)}% would be invented. Check the time column, or pass intervalSeconds.`,
      { points: length, rows: count, intervalSeconds: interval },
    );
  }

  const sums = new Float64Array(length).fill(Number.NaN);
  const seen = new Uint32Array(length);
  let duplicateRows = 0;
  let offGridRows = 0;
  for (const i of order) {
    const t = times[i]!;
    const slot = slotOf(t) - firstSlot;
    if (Math.abs(t - (phase + (slot + firstSlot) * interval)) > 1e-3) offGridRows += 1;
    if (seen[slot] === 0) sums[slot] = values[i]!;
    else {
      duplicateRows += 1;
      if (duplicates === 'mean') sums[slot]! += values[i]!;
    }
    seen[slot]! += 1;
  }

  const out = new Float64Array(length);
  const filled = new Uint8Array(length);
  let gapsFilled = 0;
  let pointsFilled = 0;
  let longGaps = 0;
  let longestGap = 0;
  let lastKnown = 0;
  for (let s = 0; s < length; s++) {
    const n = seen[s]!;
    if (n === 0) continue;
    out[s] = duplicates === 'mean' ? sums[s]! / n : sums[s]!;
    const gap = s - lastKnown - 1;
    if (gap > 0) {
      const long = gap > maxGap;
      for (let g = 1; g <= gap; g++) {
        out[lastKnown + g] = out[lastKnown]! + ((out[s]! - out[lastKnown]!) * g) / (gap + 1);
        filled[lastKnown + g] = long ? 2 : 1;
      }
      gapsFilled += 1;
      pointsFilled += gap;
      if (long) longGaps += 1;
      longestGap = Math.max(longestGap, gap);
    }
    lastKnown = s;
  }

  return {
    series: { start: phase + firstSlot * interval, intervalSeconds: interval, values: out, filled },
    counts: {
      outOfOrderRows,
      duplicateRows,
      offGridRows,
      gapsFilled,
      pointsFilled,
      longGaps,
      longestGap,
      intervalSeconds: interval,
      intervalInferred: options.intervalSeconds === undefined,
    },
  };
}
