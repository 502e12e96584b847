import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { RunView, StepView } from '../../contracts/runs.js';
import { PIPELINE_SECONDS } from '../../metrics/buckets.js';
import type { RunObserver } from '../../pipelines/run-observer.js';
import type { QueueStats } from '../../work-queue/work-queue.js';

/**
 * Pipeline runs: finished runs and steps with their durations, and the last epoch of training
 * per pipeline and model (labels bounded by the models trained, never by run). The run ledger
 * tells it what it records (RunObserver); the queue gauges read the work queue at scrape time.
 */
export class PipelineMetrics implements RunObserver {
  private readonly runs: Counter<'pipeline' | 'status'>;
  private readonly runSeconds: Histogram<'pipeline' | 'status'>;
  private readonly stepSeconds: Histogram<'pipeline' | 'step' | 'status'>;
  private readonly epochs: Counter<'pipeline' | 'model'>;
  private readonly lastEpoch: Gauge<'pipeline' | 'model'>;
  private readonly lastLoss: Gauge<'pipeline' | 'model'>;
  private readonly lastValLoss: Gauge<'pipeline' | 'model'>;
  private queueStats: (() => Promise<QueueStats>) | undefined;

  constructor(registry: Registry) {
    const registers = [registry];
    this.runs = new Counter({
      name: 'fogline_pipeline_runs_finished_total',
      help: 'Pipeline runs that finished, by pipeline and final status (succeeded, failed, canceled)',
      labelNames: ['pipeline', 'status'],
      registers,
    });
    this.runSeconds = new Histogram({
      name: 'fogline_pipeline_run_duration_seconds',
      help: 'Time from a run starting (leaving the queue) to finishing',
      labelNames: ['pipeline', 'status'],
      buckets: PIPELINE_SECONDS,
      registers,
    });
    this.stepSeconds = new Histogram({
      name: 'fogline_pipeline_step_duration_seconds',
      help: 'Time one step of a run took (prepare, train, evaluate, register), by its final status',
      labelNames: ['pipeline', 'step', 'status'],
      buckets: PIPELINE_SECONDS,
      registers,
    });
    this.epochs = new Counter({
      name: 'fogline_pipeline_epochs_total',
      help: 'Training epochs completed',
      labelNames: ['pipeline', 'model'],
      registers,
    });
    this.lastEpoch = new Gauge({
      name: 'fogline_pipeline_last_epoch',
      help: 'The last epoch completed by the latest run that trained this model (1-based)',
      labelNames: ['pipeline', 'model'],
      registers,
    });
    this.lastLoss = new Gauge({
      name: 'fogline_pipeline_last_epoch_loss',
      help: 'Training loss of the last epoch completed for this model',
      labelNames: ['pipeline', 'model'],
      registers,
    });
    this.lastValLoss = new Gauge({
      name: 'fogline_pipeline_last_epoch_val_loss',
      help: 'Validation loss of the last epoch completed for this model',
      labelNames: ['pipeline', 'model'],
      registers,
    });
    // Read from the work queue at each scrape (on Redis: the whole installation's queue, the same from every replica).
    const readStats = () => this.queueStats?.().catch(() => undefined);
    new Gauge({
      name: 'fogline_work_queue_jobs',
      help: 'Runs on the work queue by state: waiting (for a worker), active (held by a worker), delayed (waiting for a retry time)',
      labelNames: ['state'],
      registers,
      async collect() {
        const stats = await readStats();
        if (!stats) return;
        for (const state of ['waiting', 'active', 'delayed'] as const) this.set({ state }, stats[state]);
      },
    });
    new Gauge({
      name: 'fogline_work_queue_oldest_waiting_seconds',
      help: 'How long the run that has waited longest for a worker has waited (0: none waits)',
      registers,
      async collect() {
        const stats = await readStats();
        if (stats) this.set(stats.oldestWaitingSeconds);
      },
    });
  }

  runFinished(run: RunView): void {
    const labels = { pipeline: run.pipeline, status: run.status };
    this.runs.inc(labels);
    if (run.startedAt && run.finishedAt) {
      const seconds = (Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000;
      this.runSeconds.observe(labels, Math.max(0, seconds));
    }
  }

  stepFinished(run: RunView, step: StepView): void {
    this.stepSeconds.observe({ pipeline: run.pipeline, step: step.name, status: step.status }, (step.durationMs ?? 0) / 1000);
  }

  epochFinished(run: { pipeline: string; model: string }, epoch: { epoch: number; loss: number; valLoss: number }): void {
    const labels = { pipeline: run.pipeline, model: run.model };
    this.epochs.inc(labels);
    this.lastEpoch.set(labels, epoch.epoch);
    this.lastLoss.set(labels, epoch.loss);
    this.lastValLoss.set(labels, epoch.valLoss);
  }

  /** Where the queue gauges read from. */
  watchQueue(stats: () => Promise<QueueStats>): void {
    this.queueStats = stats;
  }
}
