/**
 * Wakes long polls when something that shapes desired state may have changed (a deployment, an
 * alias, a node's labels). Waiters also wake on a short tick, so that changes that arrive without
 * a signal (a node going offline, another control-plane replica) are seen within that tick.
 */
export class ChangeSignal {
  private waiters = new Set<() => void>();
  /** Counts notifications, so that caches can tell whether something changed since they were filled. */
  generation = 0;
  /** Set when the server shuts down: waiting long polls answer at once instead of holding shutdown up. */
  closed = false;

  close(): void {
    this.closed = true;
    this.notify();
  }

  notify(): void {
    this.generation += 1;
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const wake of waiters) wake();
  }

  /** Resolves on the next notify(), or after `timeoutMs`, or when `signal` aborts. */
  next(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal?.addEventListener('abort', done, { once: true });
      this.waiters.add(done);
    });
  }
}
