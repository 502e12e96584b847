import type { FastifyBaseLogger } from 'fastify';
import type { ChangeSignal } from './change-signal.js';
import type { DeploymentRepository } from './deployment-repository.js';
import type { DesiredStateService } from './desired-state.js';
import { advanceRollout, type NodeReport } from './rollout.js';

/** Without a change or a node report, rollouts are looked at this often (soak timers, nodes coming and going). */
const TICK_MS = 1000;
/** Node reports wake the controller at most this often. */
const MIN_TICK_MS = 200;

/**
 * Drives every deployment's rollout: on each tick, works out the next step of each one from
 * its selector, placement and node reports (see advanceRollout) and stores real changes.
 * Writes are optimistic (by rollout revision), so several control-plane replicas can run one
 * each; a lost race is simply retried on the next tick.
 */
export class RolloutController {
  private stopped = false;
  private running: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private pokedWhileTicking = false;
  /** Ticks run one at a time: the loop's and those the change signal asks for. */
  private ticking: Promise<unknown> = Promise.resolve();
  private stopSettling: (() => void) | undefined;

  constructor(
    private readonly deployments: DeploymentRepository,
    private readonly desiredState: DesiredStateService,
    private readonly changes: ChangeSignal,
    private readonly now: () => number = Date.now,
  ) {}

  private log: FastifyBaseLogger | undefined;

  start(log?: FastifyBaseLogger): void {
    this.log = log;
    // A change moves the rollouts on before the long polls wake: they answer with the step it led to.
    this.stopSettling ??= this.changes.settleWith(() =>
      this.serialTick().catch((error: unknown) => this.log?.warn(`rollout tick failed: ${(error as Error).message}`)),
    );
    this.running ??= this.loop();
  }

  /** Looks again soon: a node reported a state change. */
  poke(): void {
    this.pokedWhileTicking = true;
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopSettling?.();
    this.wake?.();
    await this.running;
  }

  /** One pass over every deployment; true when some rollout moved on. */
  async tick(): Promise<boolean> {
    const inputs = await this.desiredState.rolloutInputs();
    if (inputs.length === 0) return false;
    const statuses = await this.deployments.allStatuses();
    let changed = false;
    for (const { deployment, resolvedVersion, placedNodes } of inputs) {
      const reports = new Map<string, NodeReport>(
        (statuses.get(deployment.name) ?? []).map((s) => [
          s.nodeId,
          { version: s.version, state: s.state, reason: s.reason, requests: s.requests, errors: s.errors, updatedAt: s.updatedAt },
        ]),
      );
      const next = advanceRollout(deployment.rollout, deployment, { now: this.now(), resolvedVersion, placedNodes, reports });
      if (next === deployment.rollout || JSON.stringify(next) === JSON.stringify(deployment.rollout)) continue;
      if (await this.deployments.saveRollout(deployment, next)) {
        changed = true;
        const event = next.history.at(-1);
        if (event && event !== deployment.rollout.history.at(-1))
          this.log?.info({ deployment: deployment.name, ...event }, `rollout: ${event.message}`);
      }
    }
    // Each stored step was announced (deployment-changed): the change signal runs another pass, since
    // a rollout that moved may move again at once, and then wakes the nodes' long polls.
    return changed;
  }

  private serialTick(): Promise<boolean> {
    const tick = this.ticking.then(() => this.tick());
    this.ticking = tick.catch(() => undefined);
    return tick;
  }

  private async loop(): Promise<void> {
    while (!this.stopped && !this.changes.closed) {
      this.pokedWhileTicking = false;
      try {
        await this.serialTick();
      } catch (error) {
        // The store may be briefly away (a database restart): try again on the next tick.
        this.log?.warn(`rollout tick failed: ${(error as Error).message}`);
      }
      if (this.stopped) continue;
      // Node reports arrive all the time in a large fleet: a poke waits out a short pause, so the
      // rollouts are looked at a few times a second at most, not once per report.
      if (this.pokedWhileTicking) {
        await new Promise((resolve) => setTimeout(resolve, MIN_TICK_MS));
        continue;
      }
      // Changes are not waited for here: the change signal runs a tick for each (settleWith).
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, TICK_MS);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }
}
