import type { ChangeBus } from '../cluster/change-bus.js';
import { type ChangeEvent, type ChangePublisher, shapesDesiredState } from '../cluster/change-event.js';

/** A settle (the rollout controller's pass) holds long polls back at most this long: a slow store does not stall them. */
const SETTLE_LIMIT_MS = 500;
/** Passes one settle makes while events keep arriving, before it lets long polls wake anyway. */
const SETTLE_PASSES = 3;

/** Where the signal says that its bus went away or came back (the server's logger). */
export interface ChangeLog {
  info(message: string): void;
  warn(message: string): void;
}

/**
 * The control plane's change events (src/cluster/change-event.ts): domain code publishes what it
 * changed; each event reaches this process's listeners (caches) at once and, through the bus
 * (Redis, when there is one), the other replicas'. An event that shapes desired state bumps
 * `generation`, lets the settler (the rollout controller) move rollouts on, and then wakes the
 * long polls, so that one alias move wakes each agent once, with the rollout's answer.
 * Waiters also wake on their own short tick: a change without an event (a node going offline,
 * an event lost while Redis was away) is seen within it.
 */
export class ChangeSignal implements ChangePublisher {
  private waiters = new Set<() => void>();
  private readonly listeners = new Set<(event: ChangeEvent) => void>();
  private settler: (() => Promise<unknown>) | undefined;
  private settling = false;
  private settleAgain = false;
  private log: ChangeLog | undefined;
  /** Counts events that shape desired state, so that caches can tell whether something changed since they were filled. */
  generation = 0;
  /** Set when the server shuts down: waiting long polls answer at once instead of holding shutdown up. */
  closed = false;

  private bus: ChangeBus | undefined;
  /** What the bus last said (it says each change of state once). */
  private busState: { state: 'up' | 'down'; detail: string } | undefined;

  constructor(bus?: ChangeBus) {
    if (bus) this.connect(bus);
  }

  /** Shares events with the other replicas over `bus` from now on (one bus per signal). */
  connect(bus: ChangeBus): void {
    if (this.bus) throw new Error('this change signal already has a bus');
    this.bus = bus;
    bus.listen({
      event: (event) => this.deliver(event),
      state: (state, detail) => {
        this.busState = { state, detail };
        this.logBusState();
        // Whatever other replicas changed meanwhile went unannounced: every cache starts afresh.
        if (state === 'up') this.deliver({ kind: 'resync' });
      },
    });
  }

  /** Whether every change reaches this replica as an event (see ChangePublisher.complete). */
  get complete(): boolean {
    return this.bus ? this.bus.up : true;
  }

  /** Logs the bus's state from now on (the server's logger, once it has one); a first connection that fails is logged too. */
  start(log: ChangeLog): void {
    this.log = log;
    if (this.busState?.state === 'down') this.logBusState();
  }

  private logBusState(): void {
    if (!this.busState) return;
    const { state, detail } = this.busState;
    if (state === 'up') this.log?.info(`change events: Redis ${detail}`);
    else
      this.log?.warn(`change events: Redis is away (${detail}); other replicas' changes are seen within a second or two until it is back`);
  }

  close(): void {
    this.closed = true;
    this.bus?.close();
    this.wakeAll();
  }

  /** Announces `event` here and to the other replicas. */
  publish(event: ChangeEvent): void {
    if (this.closed) return;
    this.bus?.publish(event);
    this.deliver(event);
  }

  /** Announces a change that has no event of its own (sessions' placements, drift policies). */
  notify(): void {
    this.publish({ kind: 'changed' });
  }

  /** Calls `listener` with every event, this replica's and the others' (caches drop what it names). */
  subscribe(listener: (event: ChangeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Runs `settler` (the rollout controller's pass) after each change and before the long polls wake. */
  settleWith(settler: () => Promise<unknown>): () => void {
    this.settler = settler;
    return () => {
      if (this.settler === settler) this.settler = undefined;
    };
  }

  /** Resolves on the next change that shapes desired state, or after `timeoutMs`, or when `signal` aborts. */
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

  private deliver(event: ChangeEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.log?.warn(`change listener failed on ${event.kind}: ${(error as Error).message}`);
      }
    }
    if (!shapesDesiredState(event)) return;
    this.generation += 1;
    if (this.settler && !this.closed) this.settle(this.settler);
    else this.wakeAll();
  }

  /**
   * One settle at a time: events that arrive while it runs make it pass again (so a burst of
   * events wakes the long polls once), up to SETTLE_PASSES; then the long polls wake.
   */
  private settle(settler: () => Promise<unknown>): void {
    if (this.settling) {
      this.settleAgain = true;
      return;
    }
    this.settling = true;
    const limit = setTimeout(() => this.wakeAll(), SETTLE_LIMIT_MS);
    void (async () => {
      for (let pass = 0; pass < SETTLE_PASSES; pass++) {
        this.settleAgain = false;
        // The settler reports its own failures; the long polls wake all the same.
        await settler().catch(() => undefined);
        if (!this.settleAgain || this.closed) break;
      }
    })().finally(() => {
      clearTimeout(limit);
      this.settling = false;
      this.wakeAll();
      if (this.settleAgain && this.settler && !this.closed) {
        this.settleAgain = false;
        this.settle(this.settler);
      }
    });
  }

  private wakeAll(): void {
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const wake of waiters) wake();
  }
}
