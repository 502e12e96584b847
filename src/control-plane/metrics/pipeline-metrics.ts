import type { Kysely } from 'kysely';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { RunEvent, RunStatus, StepName, StepStatus } from '../../contracts/runs.js';
import { type NewRun, RunRepository } from '../../pipelines/run-repository.js';
import type { Database } from '../../store/schema.js';
import type { QueueStats } from '../../work-queue/work-queue.js';
import { PIPELINE_SECONDS } from '../../metrics/buckets.js';

const FINISHED_RUN: readonly RunStatus[] = ['succeeded', 'failed', 'canceled'];
const FINISHED_STEP: readonly StepStatus[] = ['succeeded', 'cached', 'skipped', 'failed', 'canceled'];

/**
 * Pipeline runs: finished runs and steps with their durations, and the last epoch of training
 * per pipeline and model (labels bounded by the models trained, never by run).
 */
export class PipelineMetrics {
  readonly runs: Counter<'pipeline' | 'status'>;
  readonly runSeconds: Histogram<'pipeline' | 'status'>;
  readonly stepSeconds: Histogram<'pipeline' | 'step' | 'status'>;
  readonly epochs: Counter<'pipeline' | 'model'>;
  readonly lastEpoch: Gauge<'pipeline' | 'model'>;
  readonly lastLoss: Gauge<'pipeline' | 'model'>;
  readonly lastValLoss: Gauge<'pipeline' | 'model'>;
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

  /** Where the queue gauges read from. */
  watchQueue(stats: () => Promise<QueueStats>): void {
    this.queueStats = stats;
  }
}

/**
 * The run repository, feeding the pipeline metrics from the records the run engine writes: every
 * status and step change of every run (recovered ones included) passes here, so the engine needs
 * no hooks of its own. Observing never fails a write.
 */
export class ObservedRunRepository extends RunRepository {
  /** run id -> pipeline and model, for the runs seen since start (dropped when they finish). */
  private readonly known = new Map<string, { pipeline: string; model: string }>();

  constructor(
    db: Kysely<Database>,
    private readonly metrics: PipelineMetrics,
    now?: () => number,
  ) {
    super(db, now);
  }

  override async create(run: NewRun): Promise<string> {
    const id = await super.create(run);
    this.known.set(id, { pipeline: run.pipeline, model: run.model });
    return id;
  }

  override async setStatus(id: string, status: RunStatus, fields?: Parameters<RunRepository['setStatus']>[2]): Promise<void> {
    await super.setStatus(id, status, fields);
    if (!FINISHED_RUN.includes(status)) return;
    await this.observe(async () => {
      const run = await this.get(id);
      this.metrics.runs.inc({ pipeline: run.pipeline, status });
      if (run.startedAt && run.finishedAt) {
        const seconds = (Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000;
        this.metrics.runSeconds.observe({ pipeline: run.pipeline, status }, Math.max(0, seconds));
      }
      this.known.delete(id);
    });
  }

  override async setStep(id: string, step: StepName, status: StepStatus, fields?: Parameters<RunRepository['setStep']>[3]): Promise<void> {
    await super.setStep(id, step, status, fields);
    if (!FINISHED_STEP.includes(status)) return;
    await this.observe(async () => {
      const run = await this.get(id);
      const seconds = (run.steps.find((s) => s.name === step)?.durationMs ?? 0) / 1000;
      this.metrics.stepSeconds.observe({ pipeline: run.pipeline, step, status }, seconds);
    });
  }

  override async addEvent(id: string, step: string, kind: RunEvent['kind'], payload: Record<string, unknown>): Promise<void> {
    await super.addEvent(id, step, kind, payload);
    if (kind !== 'epoch') return;
    await this.observe(async () => {
      let run = this.known.get(id);
      if (!run) {
        const view = await this.get(id);
        run = { pipeline: view.pipeline, model: view.model };
        this.known.set(id, run);
      }
      this.metrics.epochs.inc(run);
      if (typeof payload.epoch === 'number') this.metrics.lastEpoch.set(run, payload.epoch);
      if (typeof payload.loss === 'number') this.metrics.lastLoss.set(run, payload.loss);
      if (typeof payload.valLoss === 'number') this.metrics.lastValLoss.set(run, payload.valLoss);
    });
  }

  private async observe(work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch {
      // Metrics are best effort: the run's own record was written above.
    }
  }
}
