import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Claimant, LeaseHolder, LeaseStore } from './lease-store.js';

export const DEFAULT_LEASE_TTL_MS = 10_000;
/**
 * A follower tries to take the lease this often (one UPDATE that matches no row while the leader
 * lives): a released lease is taken within a second, an expired one within a second of expiry.
 */
const FOLLOWER_RETRY_MS = 1000;

export interface LeaderLeaseOptions {
  /** The lease's row: one per thing that must run once (default `control-plane`). */
  name?: string;
  /** How long a taken or renewed lease lasts without renewal (default 10 s). */
  ttlMs?: number;
  /** How often the leader renews (default ttl / 3; a follower tries at least every second). */
  renewEveryMs?: number;
  /** This process: a random id per LeaderLease, the host and the pid (kept for messages and the SQLite check). */
  claimant?: Claimant;
  /** A failed database call (the lease loop carries on). */
  onError?: (error: Error) => void;
}

export interface LeaderLeaseEvents {
  'became-leader': [];
  'lost-leadership': [reason: string];
}

/**
 * One leader among the control-plane replicas that share a database. The leader renews its lease
 * every ttl / 3; a follower tries to take it every second (it succeeds once the lease is released
 * or expired). Expiry is
 * judged on the database's clock only (LeaseStore), so that the replicas' own clocks may disagree.
 *
 * The leader also keeps a deadline of its own, on this process's monotonic clock: ttl less a
 * fifth, counted from when it *sent* the renewal that succeeded. The database set the expiry
 * after that moment, so the leader gives up (emits lost-leadership) before any other replica can
 * take over, even with the database away or answering slowly.
 */
export class LeaderLease extends EventEmitter<LeaderLeaseEvents> {
  readonly name: string;
  readonly ttlMs: number;
  readonly claimant: Claimant;
  private readonly renewEveryMs: number;
  private leading = false;
  private stopped = true;
  private loopTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private attempt: Promise<void> | undefined;

  constructor(
    private readonly store: LeaseStore,
    private readonly options: LeaderLeaseOptions = {},
  ) {
    super();
    this.name = options.name ?? 'control-plane';
    this.ttlMs = options.ttlMs ?? DEFAULT_LEASE_TTL_MS;
    if (!(this.ttlMs >= 300)) throw new Error(`The lease ttl must be at least 300 ms (got ${this.ttlMs})`);
    this.renewEveryMs = options.renewEveryMs ?? Math.floor(this.ttlMs / 3);
    this.claimant = options.claimant ?? { holder: `cp_${randomBytes(8).toString('hex')}`, host: os.hostname(), pid: process.pid };
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Makes the first attempt (so that the caller knows the role it starts in) and keeps going in the background. */
  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    await this.tryNow();
  }

  /** One attempt now (after the one in flight), then the loop resumes. A database error is thrown. */
  async tryNow(): Promise<void> {
    await this.attempt;
    clearTimeout(this.loopTimer);
    let failure: unknown;
    this.attempt = this.claimOnce().catch((error: unknown) => {
      failure = error;
    });
    await this.attempt;
    this.attempt = undefined;
    if (failure !== undefined) {
      this.schedule(Math.min(this.renewEveryMs, 1000));
      throw failure;
    }
  }

  /** Who holds the lease now, as the database says. */
  holder(): Promise<LeaseHolder | undefined> {
    return this.store.holder(this.name);
  }

  /** Takes the lease from `staleHolder` (a holder known to be dead) even before it expires; true when taken. */
  async takeOver(staleHolder: string): Promise<boolean> {
    const sentAt = performance.now();
    const taken = await this.store.claim(this.name, this.claimant, this.ttlMs, staleHolder);
    if (taken) {
      this.held(sentAt);
      this.schedule(this.renewEveryMs);
    }
    return taken;
  }

  /**
   * Stops renewing. As leader: emits lost-leadership, waits for `drain` (the controllers
   * stopping) and then releases the lease, so that another replica takes over at once.
   */
  async stop(drain?: () => Promise<void>): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.loopTimer);
    await this.attempt;
    const wasLeader = this.leading;
    if (wasLeader) this.lose('this control plane is shutting down');
    await drain?.();
    if (wasLeader) await this.store.release(this.name, this.claimant.holder);
  }

  private async claimOnce(): Promise<void> {
    const sentAt = performance.now();
    let taken: boolean;
    try {
      taken = await this.store.claim(this.name, this.claimant, this.ttlMs);
    } catch (error) {
      // The deadline decides when a leader that cannot renew gives up; a follower just retries.
      this.options.onError?.(error as Error);
      throw error;
    }
    if (this.stopped) return;
    if (taken) {
      this.held(sentAt);
      this.schedule(this.renewEveryMs);
      return;
    }
    if (this.leading) this.lose('another control plane took the lease');
    this.schedule(Math.min(this.renewEveryMs, FOLLOWER_RETRY_MS));
  }

  private held(sentAt: number): void {
    clearTimeout(this.deadlineTimer);
    const left = sentAt + this.ttlMs - this.ttlMs / 5 - performance.now();
    // A renewal that took most of the ttl to answer is too late to lead on.
    if (left <= 0) return this.lose('the lease could not be renewed in time');
    this.deadlineTimer = setTimeout(() => this.lose('the lease could not be renewed in time'), left);
    this.deadlineTimer.unref();
    if (this.leading) return;
    this.leading = true;
    this.emit('became-leader');
  }

  private lose(reason: string): void {
    clearTimeout(this.deadlineTimer);
    if (!this.leading) return;
    this.leading = false;
    this.emit('lost-leadership', reason);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.loopTimer);
    this.loopTimer = setTimeout(() => {
      if (!this.stopped) this.tryNow().catch(() => undefined);
    }, delayMs);
    this.loopTimer.unref();
  }
}
