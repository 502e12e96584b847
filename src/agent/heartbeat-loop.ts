import type { FastifyBaseLogger } from 'fastify';
import type { ApiClient } from '../client/api-client.js';
import { ApiError } from '../client/api-error.js';
import type { AgentInfo, HeartbeatResponse, NodeResources } from '../contracts/nodes.js';
import { backoffDelay, jittered } from './backoff.js';
import { TelemetryBuffer } from './telemetry-buffer.js';

export interface HeartbeatState {
  lastSuccessAt: number | null;
  consecutiveFailures: number;
  lastError: string | null;
}

const RETRY_BASE_MS = 1000;
const RETRY_MAX_MS = 30_000;

/** Refusals of the credential itself: retrying them changes nothing, the node must enrol again. */
export const CREDENTIAL_REFUSED = new Set(['FOGLINE_ERR_AUTH_REVOKED', 'FOGLINE_ERR_AUTH_INVALID', 'FOGLINE_ERR_AUTH_EXPIRED']);

/**
 * Sends a heartbeat every interval (the server says how long), retrying with exponential
 * back-off and jitter while the control plane is away. It gives up only when the control plane
 * refuses the credential itself (revoked, unknown or expired: CREDENTIAL_REFUSED), and tells
 * `onRefused`, which stops the agent.
 */
export class HeartbeatLoop {
  readonly state: HeartbeatState = { lastSuccessAt: null, consecutiveFailures: 0, lastError: null };
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private inFlight: Promise<void> | undefined;
  /** Resource samples measured while the control plane was away (bounded; oldest dropped first). */
  readonly backlog = new TelemetryBuffer();

  constructor(
    private readonly client: ApiClient,
    private readonly nodeId: string,
    private intervalMs: number,
    private readonly collect: () => Promise<{ resources: NodeResources; agent: AgentInfo }>,
    private readonly log: FastifyBaseLogger,
    private readonly onRefused: (error: ApiError) => void = () => undefined,
    /** Hears every answer before the next heartbeat is sent (a new credential must be in use by then). */
    private readonly onAnswer: (answer: HeartbeatResponse) => void = () => undefined,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.inFlight;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.inFlight = this.beat().then((nextMs) => (nextMs === undefined ? undefined : this.schedule(nextMs)));
    }, delayMs);
  }

  /** One heartbeat; returns the delay before the next one (none once the credential is refused). */
  private async beat(): Promise<number | undefined> {
    let sample: { resources: NodeResources; agent: AgentInfo } | undefined;
    try {
      sample = await this.collect();
      const backlog = this.backlog.take();
      const response = await this.client.heartbeat(this.nodeId, { ...sample, ...(backlog ? { backlog } : {}) });
      if (backlog) {
        this.backlog.delivered(backlog);
        this.log.info({ samples: backlog.samples.length, dropped: backlog.dropped }, 'delivered the telemetry measured while away');
      }
      if (this.state.consecutiveFailures > 0) {
        this.log.info({ after: this.state.consecutiveFailures }, 'heartbeats reach the control plane again');
      }
      this.state.lastSuccessAt = Date.now();
      this.state.consecutiveFailures = 0;
      this.state.lastError = null;
      this.intervalMs = response.heartbeatIntervalSeconds * 1000;
      this.onAnswer(response);
      return jittered(this.intervalMs);
    } catch (error) {
      // What was measured while away is delivered with the first heartbeat that gets through.
      if (sample) this.backlog.push(Date.now(), sample.resources);
      this.state.consecutiveFailures += 1;
      this.state.lastError = (error as Error).message;
      const delay = backoffDelay(this.state.consecutiveFailures, RETRY_BASE_MS, Math.max(RETRY_MAX_MS, this.intervalMs));
      if (error instanceof ApiError && error.status === 401 && CREDENTIAL_REFUSED.has(error.code)) {
        this.stopped = true;
        this.onRefused(error);
        return undefined;
      }
      if (error instanceof ApiError && (error.status === 401 || error.status === 404)) {
        this.log.error(
          { code: error.code, retryInMs: delay },
          `the control plane refuses this node (${error.message}); if the node was deleted or its credential revoked, delete node.json in the data dir and enrol again with a new join token`,
        );
      } else if (this.state.consecutiveFailures === 1 || this.state.consecutiveFailures % 10 === 0) {
        this.log.warn({ failures: this.state.consecutiveFailures, retryInMs: delay }, `heartbeat failed: ${this.state.lastError}`);
      }
      return delay;
    }
  }
}
