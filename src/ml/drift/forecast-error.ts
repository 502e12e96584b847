/**
 * Forecast error drift: forecasts are remembered by the time they are for, and scored when the
 * actual value for that time arrives (absolute percentage error, as MAPE is computed in training:
 * every (window, step) pair, actuals of 0 skipped). Errors go into hourly slots of data time, so
 * the rolling MAPE over the last N hours compares with the validation MAPE in the bundle.
 *
 * Bounded: at most `maxPending` forecast values wait for their actual (the oldest target times are
 * forgotten first), at most `horizon` forecasts per target time, and `slots` hours of errors.
 */
export interface ForecastErrorOptions {
  intervalSeconds: number;
  horizon: number;
  maxPending?: number;
  /** Hours of error slots kept (default 720). */
  slots?: number;
}

export interface ErrorWindow {
  /** (forecast, actual) pairs scored in the window. */
  count: number;
  /** Mean absolute percentage error in % (0 when count is 0). */
  mape: number;
  /**
   * MAPE in % of the seasonal-naive forecast "same time yesterday" on the same scored hours (each
   * hour weighted as the model's), or null when no hour in the window had yesterday's actual.
   */
  baselineMape: number | null;
  from: number | null;
  to: number | null;
}

interface ErrorSlot {
  index: number;
  sum: number;
  n: number;
  /** Seasonal-naive ("same time yesterday") errors on this slot's scored forecasts. */
  baselineSum: number;
  baselineN: number;
}

const HOUR_MS = 3_600_000;
const DAY_SECONDS = 86_400;

export class ForecastErrorTracker {
  private readonly pending = new Map<number, number[]>();
  private pendingValues = 0;
  private readonly ring: Array<ErrorSlot | undefined>;
  private head = Number.NEGATIVE_INFINITY;
  private readonly maxPending: number;
  /** Actual values of the last day and a bit, by time (Unix seconds): yesterday's value is the seasonal-naive forecast. */
  private readonly actuals = new Map<number, number>();
  private newestActual = Number.NEGATIVE_INFINITY;
  readonly intervalSeconds: number;
  readonly horizon: number;
  /** Actual values that matched no remembered forecast. */
  unmatched = 0;
  /** Forecast values forgotten before their actual came (the pending bound). */
  forgotten = 0;

  constructor(options: ForecastErrorOptions) {
    this.intervalSeconds = options.intervalSeconds;
    this.horizon = options.horizon;
    this.maxPending = options.maxPending ?? 50_000;
    this.ring = new Array<ErrorSlot | undefined>(options.slots ?? 720);
  }

  /** Remembers one forecast: `values[i]` is for `startTime + i × interval` (Unix seconds). */
  recordForecast(startTime: number, values: ArrayLike<number>): void {
    if (!Number.isFinite(startTime)) return;
    const steps = Math.min(values.length, this.horizon);
    for (let i = 0; i < steps; i++) {
      const v = values[i]!;
      if (!Number.isFinite(v)) continue;
      const at = startTime + i * this.intervalSeconds;
      let list = this.pending.get(at);
      if (!list) {
        list = [];
        this.pending.set(at, list);
      }
      if (list.length >= this.horizon) continue;
      list.push(v);
      this.pendingValues += 1;
    }
    // Forget the oldest target times first (a Map iterates in insertion order).
    for (const [at, list] of this.pending) {
      if (this.pendingValues <= this.maxPending) break;
      this.pending.delete(at);
      this.pendingValues -= list.length;
      this.forgotten += list.length;
    }
  }

  /** Scores the forecasts made for `time` (Unix seconds) against its actual value; returns how many were scored. */
  recordActual(time: number, actual: number): number {
    const yesterday = this.actuals.get(time - DAY_SECONDS);
    this.rememberActual(time, actual);
    const list = this.pending.get(time);
    if (!list) {
      this.unmatched += 1;
      return 0;
    }
    this.pending.delete(time);
    this.pendingValues -= list.length;
    if (!Number.isFinite(actual) || actual === 0) return 0;
    const index = Math.floor((time * 1000) / HOUR_MS);
    if (index <= this.head - this.ring.length) return 0;
    if (index > this.head) this.head = index;
    const position = index % this.ring.length;
    let slot = this.ring[position];
    if (!slot || slot.index !== index) {
      slot = { index, sum: 0, n: 0, baselineSum: 0, baselineN: 0 };
      this.ring[position] = slot;
    }
    for (const forecast of list) {
      slot.sum += Math.abs(actual - forecast) / Math.abs(actual);
      slot.n += 1;
    }
    if (yesterday !== undefined && Number.isFinite(yesterday)) {
      slot.baselineSum += (list.length * Math.abs(actual - yesterday)) / Math.abs(actual);
      slot.baselineN += list.length;
    }
    return list.length;
  }

  /** Keeps actuals for a day and an hour behind the newest (bounded by the interval: 25 h of values). */
  private rememberActual(time: number, actual: number): void {
    if (!Number.isFinite(time)) return;
    this.actuals.set(time, actual);
    if (time > this.newestActual) this.newestActual = time;
    const horizon = this.newestActual - DAY_SECONDS - 3600;
    const limit = Math.ceil((DAY_SECONDS + 3600) / Math.max(1, this.intervalSeconds)) + 1;
    if (this.actuals.size <= limit) return;
    for (const at of [...this.actuals.keys()]) if (at < horizon) this.actuals.delete(at);
    // Actuals off the interval's grid: forget the oldest posted first.
    for (const at of this.actuals.keys()) {
      if (this.actuals.size <= 4 * limit) break;
      this.actuals.delete(at);
    }
  }

  /** MAPE over the newest `hours` hours of scored errors. */
  window(hours: number): ErrorWindow {
    let sum = 0;
    let n = 0;
    let baselineSum = 0;
    let baselineN = 0;
    let from: number | null = null;
    let to: number | null = null;
    for (const slot of this.ring) {
      if (!slot || slot.index <= this.head - hours) continue;
      sum += slot.sum;
      n += slot.n;
      baselineSum += slot.baselineSum;
      baselineN += slot.baselineN;
      const start = slot.index * HOUR_MS;
      if (from === null || start < from) from = start;
      if (to === null || start > to) to = start;
    }
    return {
      count: n,
      mape: n > 0 ? (sum / n) * 100 : 0,
      baselineMape: baselineN > 0 ? (baselineSum / baselineN) * 100 : null,
      from,
      to,
    };
  }

  pendingCount(): number {
    return this.pendingValues;
  }
}
