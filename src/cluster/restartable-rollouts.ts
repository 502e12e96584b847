import type { FastifyBaseLogger } from 'fastify';
import type { RolloutController } from '../deployments/rollout-controller.js';

/**
 * The rollout controller as a leader runs it: a RolloutController ends for good when stopped, so
 * each time this replica becomes the leader gets a fresh one. On a follower a poke (a node's
 * report arrived here) does nothing: the leader's controller looks at every rollout each second
 * anyway, and at once when the change reaches it through the change signal.
 */
export class RestartableRollouts {
  private current: RolloutController | undefined;

  constructor(private readonly create: () => RolloutController) {}

  get running(): boolean {
    return this.current !== undefined;
  }

  start(log?: FastifyBaseLogger): void {
    if (this.current) return;
    this.current = this.create();
    this.current.start(log);
  }

  poke(): void {
    this.current?.poke();
  }

  async stop(): Promise<void> {
    const current = this.current;
    this.current = undefined;
    await current?.stop();
  }
}
