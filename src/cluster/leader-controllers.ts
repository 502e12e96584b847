import type { LeaderLease } from './leader-lease.js';

/** A background job that must run on one control plane only: started on the leader, stopped when leadership ends. */
export interface Controller {
  name: string;
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
}

export interface ControllerLog {
  info(message: string): void;
  error(message: string): void;
}

/**
 * Starts the controllers when the lease makes this replica the leader and stops them, at once and
 * in reverse order, when leadership ends. Request handling is not here: it runs on every replica.
 */
export class LeaderControllers {
  /** Bumped on every change of role: a start still in progress stops starting once it is stale. */
  private generation = 0;
  private transition: Promise<void> = Promise.resolve();
  private readonly started = new Set<Controller>();

  constructor(
    private readonly controllers: readonly Controller[],
    private readonly log?: ControllerLog,
  ) {}

  /** Follows `lease`: became-leader starts the controllers, lost-leadership stops them. */
  follow(lease: LeaderLease): void {
    lease.on('became-leader', () => void this.startAll());
    lease.on('lost-leadership', (reason) => {
      this.log?.info(`no longer the leader (${reason}): background controllers stop`);
      void this.stopAll();
    });
  }

  /** The names of the controllers running now. */
  running(): string[] {
    return this.controllers.filter((c) => this.started.has(c)).map((c) => c.name);
  }

  /** Resolves once the last start or stop has finished. */
  idle(): Promise<void> {
    return this.transition;
  }

  startAll(): Promise<void> {
    const generation = ++this.generation;
    this.transition = this.transition.then(async () => {
      for (const controller of this.controllers) {
        if (generation !== this.generation) return;
        if (this.started.has(controller)) continue;
        this.started.add(controller);
        try {
          await controller.start();
        } catch (error) {
          this.log?.error(`${controller.name} could not start: ${(error as Error).message}`);
        }
      }
      if (generation === this.generation) this.log?.info(`leader: running ${this.running().join(', ')}`);
    });
    return this.transition;
  }

  /** Stops every started controller now (not after a start in progress: that one sees it is stale and stops starting). */
  stopAll(): Promise<void> {
    this.generation++;
    const stopping = [...this.controllers].reverse().filter((c) => this.started.has(c));
    for (const controller of stopping) this.started.delete(controller);
    const stopped = Promise.all(
      stopping.map(async (controller) => {
        try {
          await controller.stop();
        } catch (error) {
          this.log?.error(`${controller.name} did not stop cleanly: ${(error as Error).message}`);
        }
      }),
    ).then(() => undefined);
    this.transition = Promise.all([this.transition, stopped]).then(() => undefined);
    return this.transition;
  }
}
