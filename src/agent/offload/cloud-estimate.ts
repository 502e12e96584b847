/**
 * What the node knows of the cloud for one deployment: how long an offloaded request takes
 * (the measured round trip, net of the queue the cloud reported with its answer, plus the queue
 * it reported last), and how many requests may be outstanding there at once. The limit is
 * additive-increase, multiplicative-decrease on the round trip against the latency target, as
 * TCP does on loss: it grows by one per window of answers within the target and shrinks by a
 * fifth (at most once per round trip) when answers take more than twice the target or do not come
 * at all — where the cloud reports its queue, that queue is what is held to the target, not the
 * round trip (which also holds the node's own event-loop delay). Requests past the limit are not sent, so the node never pushes the cloud into a queue
 * that only grows; answers between the target and twice it leave the limit alone (a cloud that is
 * a little late still answers some in time, and sheds nothing that a growing queue would not).
 */
/** Answers later than this many times the target shrink the limit. */
const LATE_FACTOR = 2;

export interface CloudEstimateOptions {
  /** Outstanding requests allowed before anything is measured (default 8). */
  initialLimit?: number;
  /** Never fewer than this (default 2): one slow answer must not close the cloud entirely. */
  minLimit?: number;
  /** Never more than this (default 512). */
  maxLimit?: number;
  /** How long a reported queue counts after the answer that carried it, ms (default 1000). */
  queueMemoryMs?: number;
  now?: () => number;
}

export interface CloudEstimateState {
  /** Requests sent to the cloud and not answered yet. */
  inFlight: number;
  /** How many may be outstanding now. */
  limit: number;
  /** Expected time for a request sent now, ms; undefined before the first answer. */
  expectedMs: number | undefined;
  /** The cloud's queue as last reported, ms (0 when it reported none lately). */
  reportedQueueMs: number;
}

export class CloudEstimate {
  private inFlightCount = 0;
  private limitValue: number;
  private netMs: number | undefined;
  private queueMs = 0;
  private queueAt = 0;
  private lastDecrease = -Infinity;
  private readonly minLimit: number;
  private readonly maxLimit: number;
  private readonly queueMemoryMs: number;
  private readonly now: () => number;

  constructor(options: CloudEstimateOptions = {}) {
    this.limitValue = options.initialLimit ?? 8;
    this.minLimit = options.minLimit ?? 2;
    this.maxLimit = options.maxLimit ?? 512;
    this.queueMemoryMs = options.queueMemoryMs ?? 1000;
    this.now = options.now ?? (() => performance.now());
  }

  get inFlight(): number {
    return this.inFlightCount;
  }

  get limit(): number {
    return Math.floor(this.limitValue);
  }

  /** Whether one more request may go to the cloud now. */
  hasRoom(): boolean {
    return this.inFlightCount < this.limit;
  }

  /** The cloud's reported queue, fading out over `queueMemoryMs` without news. */
  reportedQueueMs(): number {
    const age = this.now() - this.queueAt;
    return age >= this.queueMemoryMs ? 0 : this.queueMs * (1 - age / this.queueMemoryMs);
  }

  /** Expected completion of a request sent now, ms: round trip without queue, plus the cloud's queue. */
  expectedMs(): number | undefined {
    return this.netMs === undefined ? undefined : this.netMs + this.reportedQueueMs();
  }

  /** A request leaves for the cloud. */
  started(): void {
    this.inFlightCount += 1;
  }

  /**
   * A request came back after `ms`: answered (with the queue the cloud reported, if any) or
   * failed (timed out, refused, unreachable). `targetMs` is the deployment's latency target.
   */
  finished(outcome: { ms: number; ok: boolean; reportedQueueMs?: number }, targetMs: number): void {
    this.inFlightCount = Math.max(0, this.inFlightCount - 1);
    const now = this.now();
    if (outcome.ok) {
      const queue =
        outcome.reportedQueueMs !== undefined && Number.isFinite(outcome.reportedQueueMs) ? Math.max(0, outcome.reportedQueueMs) : 0;
      const net = Math.max(0, outcome.ms - queue);
      this.netMs = this.netMs === undefined ? net : this.netMs + 0.2 * (net - this.netMs);
      if (outcome.reportedQueueMs !== undefined) {
        this.queueMs = queue;
        this.queueAt = now;
      }
    }
    // How congested the cloud itself is: its own queue where it reports one (the round trip also
    // holds this node's own event-loop delay, which fewer requests to the cloud would not cure),
    // else the round trip.
    const congestionMs = outcome.reportedQueueMs ?? outcome.ms;
    if (outcome.ok && congestionMs <= targetMs) {
      this.limitValue = Math.min(this.maxLimit, this.limitValue + 1 / Math.max(1, this.limitValue));
      return;
    }
    if (outcome.ok && congestionMs <= LATE_FACTOR * targetMs) return;
    // Late or failed: back off, once per round trip (answers of one window arrive late together).
    if (now - this.lastDecrease < Math.max(outcome.ms, 1)) return;
    this.lastDecrease = now;
    this.limitValue = Math.max(this.minLimit, this.limitValue * 0.8);
  }

  state(): CloudEstimateState {
    return { inFlight: this.inFlightCount, limit: this.limit, expectedMs: this.expectedMs(), reportedQueueMs: this.reportedQueueMs() };
  }
}
