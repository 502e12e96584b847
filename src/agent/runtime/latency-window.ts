/** How many recent requests the latency figures describe. */
const WINDOW = 512;

/**
 * The latencies of the last requests (a fixed ring, so memory does not grow), and their p50 and
 * p99 — what the agent reports per deployment with its request counters.
 */
export class LatencyWindow {
  private readonly values = new Float64Array(WINDOW);
  private count = 0;

  push(ms: number): void {
    this.values[this.count % WINDOW] = ms;
    this.count += 1;
  }

  /** p50 and p99 in ms over the last requests; undefined before the first. */
  quantiles(): { p50: number; p99: number } | undefined {
    const size = Math.min(this.count, WINDOW);
    if (size === 0) return undefined;
    const sorted = Array.from(this.values.subarray(0, size)).sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(size - 1, Math.floor(q * size))]!;
    return { p50: round(at(0.5)), p99: round(at(0.99)) };
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
