import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { ClaimedRun, RunClaim, RunReport, RunReportAnswer } from '../contracts/runs.js';
import type { DatasetReadOptions } from '../datasets/dataset-reader.js';
import { compiledEntry } from '../files/compiled-entry.js';
import { JobInterrupted, type JobOutcome } from '../work-queue/work-queue.js';
import { RUN_REPORT_INTERVAL_MS, type StepsOutcome } from './run-ledger.js';
import type { FromWorker, ToWorker } from './worker/worker-protocol.js';

const workerFile = () => compiledEntry(import.meta.url, 'worker/run-worker.js');

/** A run's job on the work queue. */
export interface RunJob {
  runId: string;
}

/**
 * How the process that executes runs reaches the control plane's ledger: directly in the
 * embedded control plane, over the REST API in `fogline worker`.
 */
export interface RunHost {
  claim(runId: string, worker: string): Promise<RunClaim>;
  /** Local files of a claimed run's dataset and warm-start bundle (downloaded and checked when remote). */
  files(run: ClaimedRun): Promise<{ dataset: string; warmStart?: string }>;
  report(runId: string, attempt: number, report: RunReport): Promise<RunReportAnswer>;
  complete(runId: string, attempt: number, outcome: StepsOutcome, bundle: Buffer): Promise<void>;
  release(runId: string, attempt: number): Promise<void>;
}

export interface RunExecutorOptions {
  host: RunHost;
  /** Who runs the steps, as runs show it: host name and process id. */
  workerName: string;
  cacheDir: string;
  codeVersion: string;
  log?: (message: string, fields?: Record<string, unknown>) => void;
  reportIntervalMs?: number;
}

const CANCEL_GRACE_MS = 5000;

const TRANSIENT_RETRY_MS = 5000;

/** No answer, or the server's own trouble (5xx): worth trying again later. A refusal (4xx) is not. */
function isTransient(error: unknown): boolean {
  const status = (error as { status?: unknown }).status;
  return typeof status === 'number' && (status === 0 || status >= 500);
}

function isStaleAttempt(error: unknown): boolean {
  return (error as { code?: unknown }).code === 'FOGLINE_ERR_RUN_ATTEMPT_STALE';
}

/**
 * Executes runs taken from the work queue: claims the run, trains it in a worker thread (prepare,
 * train, evaluate), reports every step, epoch and log line and a ping every few seconds, and hands
 * the evaluated bundle to the register step. Stopped mid-run, it gives the run back to the queue;
 * told by a report's answer that the run was canceled, or taken over, it stops the thread.
 */
export class RunExecutor {
  constructor(private readonly options: RunExecutorOptions) {}

  async execute(job: RunJob, signal: AbortSignal): Promise<JobOutcome> {
    const { host, workerName, log } = this.options;
    let claim;
    try {
      claim = await host.claim(job.runId, workerName);
    } catch (error) {
      // The control plane away for a moment (a restart, a rolling upgrade): try again, without using up an attempt.
      if (!isTransient(error)) throw error;
      log?.(`could not claim the run, trying again in ${TRANSIENT_RETRY_MS / 1000} s: ${(error as Error).message}`, { runId: job.runId });
      return { retryAfterMs: TRANSIENT_RETRY_MS };
    }
    if (claim.outcome === 'finished') return undefined;
    if (claim.outcome === 'retry') return { retryAfterMs: claim.retryAfterMs };
    let files;
    try {
      files = await host.files(claim);
    } catch (error) {
      if (isTransient(error)) {
        await host.release(job.runId, claim.attempt).catch(() => undefined);
        return { retryAfterMs: TRANSIENT_RETRY_MS };
      }
      await host
        .report(job.runId, claim.attempt, { type: 'failed', step: 'prepare', message: (error as Error).message, canceled: false })
        .catch(() => undefined);
      return undefined;
    }
    return this.train(job.runId, claim, files, signal);
  }

  private train(
    runId: string,
    claim: ClaimedRun,
    files: { dataset: string; warmStart?: string },
    signal: AbortSignal,
  ): Promise<JobOutcome> {
    const { host, log } = this.options;
    const { attempt } = claim;
    const worker = new Worker(workerFile());
    return new Promise<JobOutcome>((resolve, reject) => {
      let chain = Promise.resolve();
      let ended = false;
      let lost = false;
      let cancelTimer: NodeJS.Timeout | undefined;
      const end = (how: () => void) => {
        if (ended) return;
        ended = true;
        clearInterval(ping);
        clearTimeout(cancelTimer);
        signal.removeEventListener('abort', onAbort);
        void worker.terminate().finally(() => void chain.finally(how));
      };
      const cancel = () => {
        worker.postMessage({ type: 'cancel' } satisfies ToWorker);
        cancelTimer ??= setTimeout(() => void worker.terminate(), CANCEL_GRACE_MS);
      };
      // Reports go out in order; an answer may say "canceled" (stop) or fail as stale (someone else has it).
      const send = (report: RunReport) => {
        chain = chain
          .then(() => host.report(runId, attempt, report))
          .then(
            (answer) => {
              if (answer.canceled) cancel();
            },
            (error: unknown) => {
              if (isStaleAttempt(error)) {
                lost = true;
                log?.('another worker has taken this run over; stopping it here', { runId, attempt });
                end(() => resolve(undefined));
              } else log?.(`a report did not reach the control plane: ${(error as Error).message}`, { runId });
            },
          );
      };
      const ping = setInterval(() => send({ type: 'ping' }), this.options.reportIntervalMs ?? RUN_REPORT_INTERVAL_MS);
      const onAbort = () =>
        end(() => {
          void host
            .release(runId, attempt)
            .catch(() => undefined)
            .finally(() => reject(new JobInterrupted()));
        });
      signal.addEventListener('abort', onAbort, { once: true });

      worker.on('message', (message: FromWorker) => {
        if (lost) return;
        if (message.type === 'done') {
          const { bundleFile, ...result } = message.result;
          chain = chain
            .then(() => host.complete(runId, attempt, { ...result, codeVersion: this.options.codeVersion }, fs.readFileSync(bundleFile)))
            .catch((error: unknown) => {
              if (!isStaleAttempt(error)) log?.(`the register step could not be reached: ${(error as Error).message}`, { runId });
            });
          end(() => resolve(undefined));
          return;
        }
        send(message);
        if (message.type === 'failed') end(() => resolve(undefined));
      });
      worker.on('error', (error) => {
        send({ type: 'failed', step: 'train', message: `The run's worker thread crashed: ${error.message}`, canceled: false });
        end(() => resolve(undefined));
      });
      worker.on('exit', () => {
        // Terminated after a cancel that the thread did not answer in time.
        if (!ended && cancelTimer) {
          send({ type: 'failed', step: 'train', message: 'canceled', canceled: true });
          end(() => resolve(undefined));
        }
      });
      worker.postMessage({
        type: 'run',
        runId,
        pipeline: claim.pipeline,
        dataset: { file: files.dataset, sha256: claim.dataset.sha256, read: claim.dataset.read as unknown as DatasetReadOptions },
        params: claim.params,
        ...(claim.warmStart && files.warmStart
          ? { warmStart: { file: files.warmStart, model: claim.warmStart.model, version: claim.warmStart.version } }
          : {}),
        cacheDir: this.options.cacheDir,
        codeVersion: this.options.codeVersion,
      } satisfies ToWorker);
    });
  }
}
