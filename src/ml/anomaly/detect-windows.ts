import type { TimeWindow } from '../metrics/anomaly-metrics.js';

export interface DetectedWindow extends TimeWindow {
  /** Highest score inside the window. */
  peakScore: number;
  /** Points above the threshold inside the window. */
  points: number;
}

export interface WindowRule {
  threshold: number;
  /** Above-threshold points at most this many points apart join one window. */
  mergeGap: number;
}

/**
 * Turns per-point anomaly scores into detected windows: points scoring above the threshold,
 * joined when close together. NaN scores (points that could not be scored) are never anomalous.
 */
export function scoresToWindows(scores: Float32Array, start: number, intervalSeconds: number, rule: WindowRule): DetectedWindow[] {
  const windows: DetectedWindow[] = [];
  let open: { first: number; last: number; peak: number; points: number } | undefined;
  const close = (): void => {
    if (!open) return;
    windows.push({
      start: start + open.first * intervalSeconds,
      end: start + open.last * intervalSeconds,
      peakScore: open.peak,
      points: open.points,
    });
    open = undefined;
  };
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    if (!(s > rule.threshold)) continue;
    if (open && i - open.last > rule.mergeGap) close();
    if (open) {
      open.last = i;
      open.peak = Math.max(open.peak, s);
      open.points += 1;
    } else {
      open = { first: i, last: i, peak: s, points: 1 };
    }
  }
  close();
  return windows;
}
