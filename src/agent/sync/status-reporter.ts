import type { FastifyBaseLogger } from 'fastify';
import type { DeploymentStatusReport, NodeDeploymentState } from '../../contracts/deployments.js';
import { backoffDelay } from '../backoff.js';
import type { SlotUsage } from '../runtime/model-slot.js';
import type { RanWhere } from '../offload/offloading-models.js';
import type { DeviceCounts } from '../../contracts/devices.js';

export type DeploymentStatus = DeploymentStatusReport['deployments'][number];

/** Request counters go out at most this often (canary soaks judge error rates by them), and only when they moved. */
export const USAGE_REPORT_INTERVAL_MS = 10_000;

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
  private readonly usageTimer: NodeJS.Timeout;
  private lastUsage = '';

  constructor(
    private readonly send: (report: DeploymentStatusReport) => Promise<void>,
    private readonly log: FastifyBaseLogger,
    private readonly usage: (name: string) => SlotUsage | undefined = () => undefined,
    usageIntervalMs = USAGE_REPORT_INTERVAL_MS,
    private readonly ranWhere: (name: string) => RanWhere | undefined = () => undefined,
    /** The deployment's MQTT binding counts on this node (src/agent/devices), when it has one. */
    private readonly deviceCounts: (name: string) => DeviceCounts | undefined = () => undefined,
  ) {
    this.usageTimer = setInterval(() => {
      if (this.usageSnapshot() !== this.lastUsage) this.flush();
    }, usageIntervalMs);
    this.usageTimer.unref();
  }

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
    clearInterval(this.usageTimer);
    clearTimeout(this.retryTimer);
    await this.sending;
  }

  /** The status with the request counters of the version it serves, when the runtime has them. */
  private withUsage(status: DeploymentStatus): DeploymentStatus {
    const ran = this.ranWhere(status.name);
    const counts = this.deviceCounts(status.name);
    const withRan: DeploymentStatus = {
      ...status,
      ...(ran ? { localRequests: ran.local, offloadedRequests: ran.offloaded, ...(ran.joint ? { joint: { ...ran.joint } } : {}) } : {}),
      ...(counts ? { mqtt: { ...counts } } : {}),
    };
    const usage = this.usage(status.name);
    if (!usage || usage.version !== status.servingVersion) return withRan;
    const { requests, errors, latencyP50Ms, latencyP99Ms } = usage;
    return { ...withRan, requests, errors, ...(latencyP50Ms === undefined ? {} : { latencyP50Ms, latencyP99Ms }) };
  }

  private usageSnapshot(): string {
    return JSON.stringify(
      [...this.statuses.keys()].map((name) => [this.usage(name) ?? null, this.ranWhere(name) ?? null, this.deviceCounts(name) ?? null]),
    );
  }

  private async drain(): Promise<void> {
    while (this.dirty && !this.stopped) {
      this.dirty = false;
      try {
        this.lastUsage = this.usageSnapshot();
        await this.send({ deployments: [...this.statuses.values()].map((status) => this.withUsage(status)) });
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
