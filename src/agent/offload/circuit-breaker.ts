/** closed: calls go through; open: none do until the back-off ends; half-open: one trial call. */
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit (default 3). */
  failureThreshold?: number;
  /** First back-off once open, ms (default 1000); doubles after each failed trial. */
  initialBackoffMs?: number;
  /** Longest back-off, ms (default 30000). */
  maxBackoffMs?: number;
  now?: () => number;
}

/**
 * Keeps calls away from a peer that keeps failing: after `failureThreshold` failures in a row no
 * call goes for a back-off (1 s, doubling to 30 s); then one trial call goes, and its success
 * closes the circuit again while its failure doubles the back-off.
 */
export class CircuitBreaker {
  private failures = 0;
  private openedUntil = 0;
  private backoffMs: number;
  private trialInFlight = false;
  private readonly failureThreshold: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly now: () => number;

  constructor(options: CircuitBreakerOptions = {}) {
    this.failureThreshold = options.failureThreshold ?? 3;
    this.initialBackoffMs = options.initialBackoffMs ?? 1000;
    this.maxBackoffMs = options.maxBackoffMs ?? 30_000;
    this.now = options.now ?? Date.now;
    this.backoffMs = this.initialBackoffMs;
  }

  get state(): BreakerState {
    if (this.failures < this.failureThreshold) return 'closed';
    return this.now() < this.openedUntil ? 'open' : 'half-open';
  }

  /** Whether a call may go now; in half-open, only one (the trial) until it reports back. */
  allow(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open' || this.trialInFlight) return false;
    this.trialInFlight = true;
    return true;
  }

  /** Whether a call could go now, without taking the half-open trial (for decisions). */
  available(): boolean {
    const state = this.state;
    return state === 'closed' || (state === 'half-open' && !this.trialInFlight);
  }

  success(): void {
    this.failures = 0;
    this.trialInFlight = false;
    this.backoffMs = this.initialBackoffMs;
  }

  failure(): void {
    const wasTrial = this.trialInFlight;
    this.trialInFlight = false;
    this.failures += 1;
    if (this.failures < this.failureThreshold) return;
    if (wasTrial) this.backoffMs = Math.min(this.maxBackoffMs, this.backoffMs * 2);
    this.openedUntil = this.now() + this.backoffMs;
  }
}
