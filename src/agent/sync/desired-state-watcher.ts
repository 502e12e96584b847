import type { FastifyBaseLogger } from 'fastify';
import { ApiError } from '../../client/api-error.js';
import type { DesiredState } from '../../contracts/deployments.js';
import { backoffDelay } from '../backoff.js';

/** How long the control plane may hold one poll: long enough to be cheap, short enough to notice a dead link. */
export const LONG_POLL_SECONDS = 25;
const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 15_000;

export interface DesiredStateSource {
  desiredState(revision: string | undefined, waitSeconds: number, signal: AbortSignal): Promise<DesiredState>;
}

/**
 * Watches this node's desired state with a long poll: the control plane answers as soon as the
 * revision changes, so a change arrives in about one round trip. After a break it retries with
 * back-off and jitter, and its first successful poll asks without a revision so that the agent
 * resyncs at once. Every answer is handed on (reconciling is idempotent; retries failed ones).
 */
export class DesiredStateWatcher {
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private revision: string | undefined;
  private synced = false;
  failures = 0;

  constructor(
    private readonly source: DesiredStateSource,
    private readonly onState: (state: DesiredState, changed: boolean) => void,
    private readonly onReconnect: () => void,
    private readonly log: FastifyBaseLogger,
    private readonly waitSeconds = LONG_POLL_SECONDS,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      try {
        const state = await this.source.desiredState(this.synced ? this.revision : undefined, this.waitSeconds, signal);
        if (this.failures > 0) {
          this.log.info({ after: this.failures }, 'desired state reachable again; resyncing');
          this.onReconnect();
        }
        this.failures = 0;
        const changed = state.revision !== this.revision;
        this.revision = state.revision;
        this.synced = true;
        this.onState(state, changed);
      } catch (error) {
        if (signal.aborted) break;
        this.failures += 1;
        this.synced = false;
        const delay = backoffDelay(this.failures, RETRY_BASE_MS, RETRY_MAX_MS);
        if (this.failures === 1 || this.failures % 10 === 0 || (error instanceof ApiError && error.status === 401)) {
          this.log.warn({ failures: this.failures, retryInMs: delay }, `desired state poll failed: ${(error as Error).message}`);
        }
        await sleep(delay, signal);
      }
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
