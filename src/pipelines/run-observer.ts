import type { RunView, StepView } from '../contracts/runs.js';

/**
 * Told by the run ledger what it has just recorded about a run, so that whoever watches runs (the
 * control plane's metrics) needs no hook into the repository. Only this process's writes are told:
 * with several replicas, each tells its own observer of the reports it took. An observer that
 * throws fails no write.
 *
 * @example
 * const ledger = new RunLedger({ runs, datasets, models, observer: metrics.pipelines });
 */
export interface RunObserver {
  /** A run reached its final status (succeeded, failed, canceled); startedAt is null when it never left the queue. */
  runFinished(run: RunView): void;
  /** One of the run's steps reached a final status (succeeded, cached, skipped, failed, canceled). */
  stepFinished(run: RunView, step: StepView): void;
  /** The worker finished a training epoch. */
  epochFinished(run: { pipeline: string; model: string }, epoch: { epoch: number; loss: number; valLoss: number }): void;
}
