import type { FastifyBaseLogger } from 'fastify';
import type { DeploymentStatusReport, NodeDeploymentState } from '../../contracts/deployments.js';
import { backoffDelay } from '../backoff.js';

export type DeploymentStatus = DeploymentStatusReport['deployments'][number];

/**
 * Per-deployment state on this node, reported to the control plane on every change. Reports
 * are whole (every deployment each time), so a lost one is repaired by the next; a failed send
 * is retried with back-off until one gets through.
 */
export class StatusReporter {
  private readonly statuses = new Map<string, DeploymentStatus>();
  private sending: Promise<void> | undefined;
  private dirty = false;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly send: (report: DeploymentStatusReport) => Promise<void>,
    private readonly log: FastifyBaseLogger,
  ) {}

  /** `servingVersion`: what this node serves now for `name` (the old version while `version` loads or after it failed). */
  set(name: string, version: number | null, state: NodeDeploymentState, reason?: string, servingVersion: number | null = null): void {
    const before = this.statuses.get(name);
    if (
      before &&
      before.version === version &&
      before.state === state &&
      before.reason === reason &&
      before.servingVersion === servingVersion
    )
      return;
    this.statuses.set(name, { name, version, state, servingVersion, ...(reason !== undefined ? { reason } : {}) });
    this.flush();
  }

  get(name: string): DeploymentStatus | undefined {
    return this.statuses.get(name);
  }

  delete(name: string): void {
    if (this.statuses.delete(name)) this.flush();
  }

  /** Sends the current report (again): on a change, and when the link to the control plane returns. */
  flush(): void {
    this.dirty = true;
    clearTimeout(this.retryTimer);
    if (!this.sending && !this.stopped) this.sending = this.drain();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    await this.sending;
  }

  private async drain(): Promise<void> {
    while (this.dirty && !this.stopped) {
      this.dirty = false;
      try {
        await this.send({ deployments: [...this.statuses.values()] });
        this.failures = 0;
      } catch (error) {
        this.failures += 1;
        this.dirty = true;
        const delay = backoffDelay(this.failures, 1000, 30_000);
        if (this.failures === 1) this.log.warn({ retryInMs: delay }, `deployment status report failed: ${(error as Error).message}`);
        this.sending = undefined;
        this.retryTimer = setTimeout(() => this.flush(), delay);
        return;
      }
    }
    this.sending = undefined;
  }
}
