/**
 * How many requests per second the node's own model may take without starving the rest of the
 * agent. The agent runs its model on the same event loop that parses requests and forwards the
 * offloaded ones: while it computes, every other request waits, unparsed, in the socket buffers.
 * So the node's compute is budgeted from a model of that one loop:
 *
 *   busy share = local rate × local cost + forwarded rate × forward cost
 *
 * with the local cost the measured time per prediction (wall time, so the CPU quota the node
 * really gets is in it), the forward cost learned from the event loop's measured utilisation, and
 * the arrival rate measured over the last few requests. The local rate is the largest that keeps
 * the busy share at or under `maxUtilization` when the rest is forwarded, scaled down while the
 * loop reads busier than that (what the model misses: parsing, answering, GC); a token bucket
 * (burst of one) holds the node to it, so a burst arriving at a calm node is mostly forwarded
 * within a few requests instead of after the next utilisation reading.
 */
export interface EdgeBudgetOptions {
  /** The busy share of the event loop the budget aims at (default 0.7): below it, requests queue little on the node. */
  maxUtilization?: number;
  /** Forward cost assumed before the first measurement, as a share of the local cost (default 0.1). */
  initialForwardShare?: number;
  /** Arrival-rate smoothing: each arrival moves the estimate this share of the way (default 0.1, about ten requests). */
  arrivalSmoothing?: number;
  now?: () => number;
}

/** What the budget knows now (for the decision, the metrics and tests). */
export interface EdgeBudgetState {
  /** Requests per second arriving at this deployment, recent. */
  arrivalRate: number;
  /** Requests per second the node's model may take now. */
  localRate: number;
  /** Event-loop ms one forwarded request costs (learned). */
  forwardCostMs: number;
}

export class EdgeBudget {
  private readonly maxUtilization: number;
  private readonly arrivalSmoothing: number;
  private readonly now: () => number;
  private readonly initialForwardShare: number;
  /** Mean gap between arrivals, ms (undefined before the second). */
  private gapMs: number | undefined;
  private lastArrival: number | undefined;
  private forwardMs: number | undefined;
  private tokens = 1;
  private refilledAt: number;
  /** Since the last utilisation reading, to learn the forward cost: local compute (ms) and forwarded requests. */
  private windowLocalMs = 0;
  /** Scales the modelled local rate down while the loop reads busier than aimed at (0.05–1). */
  private correction = 1;
  private windowForwarded = 0;

  constructor(options: EdgeBudgetOptions = {}) {
    this.maxUtilization = options.maxUtilization ?? 0.7;
    this.arrivalSmoothing = options.arrivalSmoothing ?? 0.1;
    this.initialForwardShare = options.initialForwardShare ?? 0.1;
    this.now = options.now ?? (() => performance.now());
    this.refilledAt = this.now();
  }

  /** Counts one request arriving (call once per request, before `take`). */
  arrived(): void {
    const at = this.now();
    if (this.lastArrival !== undefined) {
      const gap = Math.max(0.01, at - this.lastArrival);
      // A long pause resets the estimate rather than being averaged in: the next burst is new traffic.
      this.gapMs = this.gapMs === undefined || gap > 1000 ? gap : this.gapMs + this.arrivalSmoothing * (gap - this.gapMs);
    }
    this.lastArrival = at;
  }

  /** Requests per second arriving now (0 before two have arrived or after a second of quiet). */
  arrivalRate(): number {
    if (this.gapMs === undefined || this.lastArrival === undefined) return 0;
    // Quiet since the last arrival counts: the rate decays instead of freezing at the last burst's.
    const sinceLast = this.now() - this.lastArrival;
    return 1000 / Math.max(this.gapMs, sinceLast);
  }

  /** Event-loop ms per forwarded request; before it is learned, a share of the local cost. */
  forwardCostMs(localCostMs: number): number {
    return this.forwardMs ?? localCostMs * this.initialForwardShare;
  }

  /**
   * The local rate the loop can afford at the current arrival rate: solves
   * `local × localCost + (arrivals − local) × forwardCost ≤ maxUtilization` for `local`.
   */
  localRate(localCostMs: number): number {
    if (!(localCostMs > 0)) return Infinity;
    const arrivals = this.arrivalRate();
    const forward = Math.min(this.forwardCostMs(localCostMs), localCostMs);
    const budgetMsPerSecond = this.maxUtilization * 1000 - arrivals * forward;
    const perLocal = localCostMs - forward;
    const alone = (this.maxUtilization * 1000) / localCostMs;
    if (budgetMsPerSecond <= 0) return 0;
    // Forwarding as dear as running it here: only the loop's own limit counts.
    return this.correction * (perLocal <= 0 ? alone : Math.min(budgetMsPerSecond / perLocal, alone));
  }

  /**
   * Takes a place on the node's model if the budget has one (a token bucket refilled at
   * `localRate`, holding at most one): true means run it here. `localCostMs` undefined (nothing
   * measured yet) always admits, and takes the place.
   */
  take(localCostMs: number | undefined): boolean {
    const now = this.now();
    if (localCostMs === undefined) {
      // Admitted to measure the cost; it still uses the place, as any admission does.
      this.refilledAt = now;
      this.tokens = Math.max(0, this.tokens - 1);
      return true;
    }
    const rate = this.localRate(localCostMs);
    this.tokens = Math.min(1, this.tokens + (rate === Infinity ? 1 : ((now - this.refilledAt) / 1000) * rate));
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Gives back a place `take` gave for a request that then did not run here. */
  refund(): void {
    this.tokens = Math.min(1, this.tokens + 1);
  }

  /** Counts a request that ran here (costing about `localCostMs`) or went to the cloud, for learning the forward cost. */
  routed(where: 'edge' | 'cloud', localCostMs = 0): void {
    if (where === 'edge') this.windowLocalMs += localCostMs;
    else this.windowForwarded += 1;
  }

  /**
   * Learns the forward cost from one event-loop reading: the loop's busy ms over `windowMs`,
   * less what the local requests of that window cost, shared among its forwarded requests (so
   * parsing and answering every request, and the loop's other work, count as forwarding's: a
   * cautious estimate).
   * Needs a few forwarded requests in the window to say anything.
   */
  observeLoop(utilization: number, windowMs: number, loopDelayMs = 0, delayLimitMs = Infinity): void {
    const localMs = this.windowLocalMs;
    const forwarded = this.windowForwarded;
    this.windowLocalMs = 0;
    this.windowForwarded = 0;
    if (!(windowMs > 0) || !Number.isFinite(utilization)) return;
    // The model's costs miss what a local request costs besides its batch (parsing, answering,
    // GC), and under a CPU quota the loop reads idle while it is throttled: while the loop reads
    // busier than the model aims at, or gets to what is due later than `delayLimitMs` on average,
    // with local work in the window, the local rate is scaled down; it recovers by a tenth per
    // calm reading.
    const late = loopDelayMs > delayLimitMs;
    if ((utilization > this.maxUtilization || late) && localMs > 0) {
      const factor = late ? 0.7 : this.maxUtilization / utilization;
      this.correction = Math.max(0.05, this.correction * Math.min(factor, 0.95));
    } else if (utilization < this.maxUtilization - 0.15 && !late) this.correction = Math.min(1, this.correction * 1.1);
    if (forwarded < 5) return;
    const perForward = Math.max(0, utilization * windowMs - localMs) / forwarded;
    this.forwardMs = this.forwardMs === undefined ? perForward : this.forwardMs + 0.3 * (perForward - this.forwardMs);
  }

  state(localCostMs: number | undefined): EdgeBudgetState {
    const cost = localCostMs ?? 0;
    return { arrivalRate: this.arrivalRate(), localRate: this.localRate(cost), forwardCostMs: this.forwardCostMs(cost) };
  }
}
