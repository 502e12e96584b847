/**
 * Counts of values in fixed bins over a sliding window of time, in bounded memory: a ring of
 * `slots` time slots (one hour each by default), each holding one count per bin plus an underflow
 * and an overflow bin (values below the first edge, or above the last). Memory is
 * `slots × (bins + 2)` numbers whatever the number of values added. Time is the data's own time
 * when the caller knows it (a replayed series then drifts in its own hours), wall time otherwise.
 */
export interface WindowCounts {
  /** Underflow, one count per bin, overflow: `edges.length + 1` entries. */
  counts: number[];
  /** Mean of the values that fell below the first edge / above the last (0 when none): where that mass sits. */
  underflowMean: number;
  overflowMean: number;
  total: number;
  mean: number;
  std: number;
  min: number;
  max: number;
  /** Slot start times (ms) of the oldest and newest slots in the window that hold values; null when empty. */
  from: number | null;
  to: number | null;
}

interface Slot {
  index: number;
  counts: Float64Array;
  n: number;
  sum: number;
  sumSq: number;
  min: number;
  max: number;
  underSum: number;
  overSum: number;
}

export interface SlidingHistogramOptions {
  /** Length of one slot in ms (default one hour). */
  slotMs?: number;
  /** Slots kept (default 720: 30 days of hours); windows up to this many slots can be asked for. */
  slots?: number;
}

export class SlidingHistogram {
  readonly edges: readonly number[];
  readonly slotMs: number;
  readonly capacity: number;
  private readonly ring: Array<Slot | undefined>;
  private head = Number.NEGATIVE_INFINITY;
  /** Values older than the window when they arrived (dropped). */
  late = 0;

  constructor(edges: readonly number[], options: SlidingHistogramOptions = {}) {
    if (edges.length < 2) throw new RangeError('a histogram needs at least two edges');
    for (let i = 1; i < edges.length; i++) {
      if (!(edges[i]! >= edges[i - 1]!)) throw new RangeError('histogram edges must be finite and ascending');
    }
    this.edges = [...edges];
    this.slotMs = options.slotMs ?? 3_600_000;
    this.capacity = options.slots ?? 720;
    if (!(this.slotMs > 0) || !Number.isInteger(this.capacity) || this.capacity < 1) throw new RangeError('bad slot settings');
    this.ring = new Array<Slot | undefined>(this.capacity);
  }

  /** Index of the bin a value falls in: 0 = underflow, edges.length = overflow. */
  binOf(value: number): number {
    const edges = this.edges;
    const last = edges.length - 1;
    if (value < edges[0]!) return 0;
    if (value > edges[last]!) return last + 1;
    // Binary search for the bin [edges[i], edges[i+1]) (the last bin includes its upper edge).
    let lo = 0;
    let hi = last;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (value >= edges[mid]!) lo = mid;
      else hi = mid;
    }
    return lo + 1;
  }

  /** Adds a value seen at `atMs`; NaN and infinities are ignored. Returns false when the value was too old to keep. */
  add(value: number, atMs: number): boolean {
    if (!Number.isFinite(value) || !Number.isFinite(atMs)) return false;
    const index = Math.floor(atMs / this.slotMs);
    if (index <= this.head - this.capacity) {
      this.late += 1;
      return false;
    }
    if (index > this.head) this.head = index;
    const position = ((index % this.capacity) + this.capacity) % this.capacity;
    let slot = this.ring[position];
    if (!slot || slot.index !== index) {
      slot = {
        index,
        counts: new Float64Array(this.edges.length + 1),
        n: 0,
        sum: 0,
        sumSq: 0,
        min: Number.POSITIVE_INFINITY,
        max: Number.NEGATIVE_INFINITY,
        underSum: 0,
        overSum: 0,
      };
      this.ring[position] = slot;
    }
    const bin = this.binOf(value);
    slot.counts[bin]! += 1;
    slot.n += 1;
    slot.sum += value;
    slot.sumSq += value * value;
    if (value < slot.min) slot.min = value;
    if (value > slot.max) slot.max = value;
    if (bin === 0) slot.underSum += value;
    else if (bin === this.edges.length) slot.overSum += value;
    return true;
  }

  /** The counts over the newest `slots` slots (default: all kept), ending at the newest value's slot. */
  window(slots = this.capacity): WindowCounts {
    const span = Math.max(1, Math.min(this.capacity, Math.floor(slots)));
    const counts = new Array<number>(this.edges.length + 1).fill(0);
    let n = 0;
    let sum = 0;
    let sumSq = 0;
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    let underSum = 0;
    let overSum = 0;
    let from: number | null = null;
    let to: number | null = null;
    for (const slot of this.ring) {
      if (!slot || slot.n === 0 || slot.index <= this.head - span) continue;
      for (let i = 0; i < counts.length; i++) counts[i]! += slot.counts[i]!;
      n += slot.n;
      sum += slot.sum;
      sumSq += slot.sumSq;
      underSum += slot.underSum;
      overSum += slot.overSum;
      if (slot.min < min) min = slot.min;
      if (slot.max > max) max = slot.max;
      const start = slot.index * this.slotMs;
      if (from === null || start < from) from = start;
      if (to === null || start > to) to = start;
    }
    const mean = n > 0 ? sum / n : 0;
    return {
      counts,
      underflowMean: counts[0]! > 0 ? underSum / counts[0]! : 0,
      overflowMean: counts.at(-1)! > 0 ? overSum / counts.at(-1)! : 0,
      total: n,
      mean,
      std: n > 0 ? Math.sqrt(Math.max(0, sumSq / n - mean * mean)) : 0,
      min: n > 0 ? min : 0,
      max: n > 0 ? max : 0,
      from,
      to,
    };
  }

  /** Slots holding values now (never more than the capacity). */
  slotsInUse(): number {
    return this.ring.filter((slot) => slot !== undefined).length;
  }
}
