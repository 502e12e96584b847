/**
 * Counts events per key (a client address) in fixed one-minute windows, in bounded memory: when
 * more than `maxKeys` keys are tracked, the oldest windows are dropped first. A limit of 0 turns
 * it off.
 *
 * @example
 * const failures = new RateLimiter(30);
 * if (failures.exceeded(ip)) throw tooMany(failures.retryAfterSeconds(ip));
 * failures.count(ip);
 */
export class RateLimiter {
  private readonly windows = new Map<string, { startedAt: number; count: number }>();

  constructor(
    readonly limitPerMinute: number,
    private readonly maxKeys = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one event for `key`; true when that makes it go over the limit. */
  count(key: string): boolean {
    if (this.limitPerMinute <= 0) return false;
    const window = this.current(key) ?? { startedAt: this.now(), count: 0 };
    window.count += 1;
    // Re-inserting keeps the map in order of last use, so eviction drops the stalest key.
    this.windows.delete(key);
    this.windows.set(key, window);
    if (this.windows.size > this.maxKeys) this.windows.delete(this.windows.keys().next().value as string);
    return window.count > this.limitPerMinute;
  }

  /** True when `key` is over its limit for the rest of the current minute. */
  exceeded(key: string): boolean {
    if (this.limitPerMinute <= 0) return false;
    return (this.current(key)?.count ?? 0) > this.limitPerMinute;
  }

  retryAfterSeconds(key: string): number {
    const window = this.current(key);
    return window ? Math.max(1, Math.ceil((window.startedAt + 60_000 - this.now()) / 1000)) : 1;
  }

  private current(key: string): { startedAt: number; count: number } | undefined {
    const window = this.windows.get(key);
    if (window && this.now() - window.startedAt >= 60_000) {
      this.windows.delete(key);
      return undefined;
    }
    return window;
  }
}
