import type {
  ClaimedRun,
  RunClaim,
  RunCompletion,
  RunProgress,
  RunReport,
  RunReportAnswer,
  RunStatus,
  RunView,
  StepName,
  StepStatus,
} from '../contracts/runs.js';
import type { DatasetCatalog } from '../datasets/dataset-catalog.js';
import type { ModelRegistry } from '../registry/model-registry.js';
import type { RunObserver } from './run-observer.js';
import type { RunRepository, RunTouch } from './run-repository.js';

/** A worker reports at least this often (a ping when nothing else happens). */
export const RUN_REPORT_INTERVAL_MS = 3000;
/** No report for this long: the worker is taken for lost and another may take the run over. */
export const RUN_STALE_MS = 15_000;

export interface RunLedgerOptions {
  runs: RunRepository;
  datasets: DatasetCatalog;
  models: ModelRegistry;
  /** Most runs of one pipeline held by workers at once, across the cluster (--pipeline-concurrency). */
  pipelineLimits?: Readonly<Record<string, number>>;
  staleMs?: number;
  /** Called after a new version is registered. */
  onRegistered?: () => void;
  /** Told of every run and step this ledger finishes and every epoch reported (the control plane's metrics). */
  observer?: RunObserver;
}

const answer = ({ canceled }: RunTouch): RunReportAnswer => ({ canceled });

/** The register step's input: what the worker's steps produced. */
export type StepsOutcome = Omit<RunCompletion, 'bundleBase64'>;

/**
 * The control plane's side of a run that a worker took from the work queue: who holds it (one
 * attempt at a time; a lost worker's later reports are refused), what it reports, and the register
 * step, which runs here against the registry and registers at most one version per run. Workers
 * reach it in this process (the embedded default) or through the REST API (`fogline worker`).
 */
export class RunLedger {
  constructor(private readonly options: RunLedgerOptions) {}

  private get staleMs(): number {
    return this.options.staleMs ?? RUN_STALE_MS;
  }

  async claim(id: string, worker: string): Promise<RunClaim> {
    const { runs, datasets, models, pipelineLimits } = this.options;
    const run = await runs.get(id);
    const limit = pipelineLimits?.[run.pipeline];
    if (run.status === 'queued' && limit !== undefined && (await runs.runningCount(run.pipeline, id)) >= limit) {
      return {
        outcome: 'retry',
        retryAfterMs: 2000,
        reason: `the ${run.pipeline} pipeline runs at most ${limit} at once (--pipeline-concurrency)`,
      };
    }
    const claim = await runs.claim(id, worker, this.staleMs);
    if (claim.outcome === 'finished') return claim;
    if (claim.outcome === 'held') {
      return { outcome: 'retry', retryAfterMs: claim.retryAfterMs, reason: `${claim.worker ?? 'another worker'} still reports on it` };
    }
    if (claim.cancelRequested) {
      await this.finish(id, 'canceled', 'canceled');
      return { outcome: 'finished', status: 'canceled' };
    }
    await runs.addEvent(id, 'prepare', 'log', {
      message:
        claim.attempt === 1
          ? `taken by ${worker}`
          : `attempt ${claim.attempt}, taken by ${worker}: ${claim.previousWorker ?? 'the previous worker'} stopped before the end`,
    });
    const dataset = await datasets.get(run.dataset.name, run.dataset.version);
    const warmStartFrom = run.params.warmStartFrom;
    const warmStart = typeof warmStartFrom === 'number' ? (await models.getVersion(run.model, warmStartFrom)).artifact.sha256 : undefined;
    return {
      outcome: 'claimed',
      attempt: claim.attempt,
      pipeline: run.pipeline as ClaimedRun['pipeline'],
      model: run.model,
      params: run.params,
      dataset: {
        name: dataset.name,
        version: dataset.version,
        sha256: dataset.sha256,
        read: { ...datasets.readOptions(dataset) },
      },
      ...(warmStart !== undefined ? { warmStart: { model: run.model, version: warmStartFrom as number, sha256: warmStart } } : {}),
    };
  }

  async report(id: string, attempt: number, report: RunReport): Promise<RunReportAnswer> {
    const { runs } = this.options;
    switch (report.type) {
      case 'ping':
        return answer(await runs.touch(id, attempt));
      case 'step': {
        const touched = await runs.touch(id, attempt);
        await this.setStep(id, report.step, report.status, { cacheKey: report.cacheKey, summary: report.summary });
        if (report.status !== 'running')
          await runs.addEvent(id, report.step, 'log', { message: `${report.step} ${report.status}`, ...report.summary });
        return answer(touched);
      }
      case 'progress': {
        const { progress } = report;
        const view: RunProgress =
          progress.phase === 'train'
            ? {
                step: report.step,
                epoch: progress.epoch,
                epochs: progress.epochs,
                loss: progress.loss,
                valLoss: progress.valLoss,
                elapsedMs: progress.elapsedMs,
                etaMs: progress.etaMs,
              }
            : { step: report.step, message: progress.message };
        const touched = await runs.touch(id, attempt, view);
        if (progress.phase === 'train') {
          const { epoch, epochs, loss, valLoss, elapsedMs } = progress;
          await runs.addEvent(id, report.step, 'epoch', { epoch, epochs, loss, valLoss, elapsedMs });
          this.tell((observer) => observer.epochFinished({ pipeline: touched.pipeline, model: touched.model }, { epoch, loss, valLoss }));
        } else {
          await runs.addEvent(id, report.step, 'log', { message: progress.message });
        }
        return answer(touched);
      }
      case 'log': {
        const touched = await runs.touch(id, attempt);
        await runs.addEvent(id, report.step, 'log', { message: report.message });
        return answer(touched);
      }
      case 'failed': {
        const touched = await runs.touch(id, attempt);
        await this.setStep(id, report.step, report.canceled ? 'canceled' : 'failed', { error: report.message });
        await this.finish(
          id,
          report.canceled ? 'canceled' : 'failed',
          report.canceled ? 'canceled' : `${report.step} failed: ${report.message}`,
        );
        return answer(touched);
      }
    }
  }

  /** The worker stopped before the end (it was told to stop): the next worker may take the run at once. */
  async release(id: string, attempt: number): Promise<void> {
    await this.options.runs.release(id, attempt);
  }

  /** The register step: only a model that passed the gate becomes a version, and at most one per run. */
  async complete(id: string, attempt: number, outcome: StepsOutcome, bundle: Buffer): Promise<void> {
    const { runs, models, datasets } = this.options;
    await runs.touch(id, attempt);
    const run = await runs.get(id);
    const { gate } = outcome;
    try {
      if (!gate.passed && run.gate !== 'none') {
        const reason = `not registered: ${gate.metric} ${gate.model.toFixed(3)} did not beat ${gate.baselineName} (${gate.baseline.toFixed(3)})`;
        await this.setStep(id, 'register', 'skipped', { summary: { gate, reason } });
        await runs.addEvent(id, 'register', 'log', { message: reason });
        await this.setStatus(id, 'succeeded', { result: { metrics: outcome.metrics, gate, registered: null }, registeredVersion: null });
        return;
      }
      await this.setStep(id, 'register', 'running');
      // A worker lost after the register step but before its answer reached it: the run's version stands.
      const earlier = (await models.listVersions(run.model).catch(() => [])).find((version) => version.lineage.runId === id);
      const dataset = await datasets.get(run.dataset.name, run.dataset.version);
      const version =
        earlier ??
        (await models.register({
          model: run.model,
          bundle,
          framework: 'tfjs',
          kind: outcome.kind,
          ioSignature: outcome.ioSignature,
          metrics: outcome.metrics,
          lineage: {
            runId: id,
            dataset: { name: dataset.name, version: dataset.version, sha256: dataset.sha256 },
            parameters: outcome.params,
            codeVersion: outcome.codeVersion,
          },
          createdBy: run.createdBy,
        }));
      await this.setStep(id, 'register', 'succeeded', {
        summary: { model: run.model, version: version.version, sha256: version.artifact.sha256 },
      });
      if (!earlier) this.options.onRegistered?.();
      await this.setStatus(id, 'succeeded', {
        result: { metrics: outcome.metrics, gate, registered: { model: run.model, version: version.version } },
        registeredVersion: version.version,
      });
    } catch (error) {
      await this.setStep(id, 'register', 'failed', { error: (error as Error).message });
      await this.finish(id, 'failed', `register failed: ${(error as Error).message}`);
    }
  }

  async finish(id: string, status: 'failed' | 'canceled', error: string): Promise<void> {
    await this.options.runs.closeOpenSteps(id, status === 'canceled' ? 'canceled' : 'skipped');
    await this.setStatus(id, status, { error });
  }

  /** Records a step's status; a final one is told to the observer. */
  private async setStep(id: string, step: StepName, status: StepStatus, fields?: Parameters<RunRepository['setStep']>[3]): Promise<void> {
    await this.options.runs.setStep(id, step, status, fields);
    if (status === 'running' || status === 'pending') return;
    await this.tellAbout(id, (observer, run) => {
      const view = run.steps.find((s) => s.name === step);
      if (view) observer.stepFinished(run, view);
    });
  }

  /** Records a run's final status and tells the observer. */
  private async setStatus(
    id: string,
    status: Exclude<RunStatus, 'queued' | 'running'>,
    fields: Parameters<RunRepository['setStatus']>[2],
  ): Promise<void> {
    await this.options.runs.setStatus(id, status, fields);
    await this.tellAbout(id, (observer, run) => observer.runFinished(run));
  }

  /** The observer is told the run as recorded now: the durations are the database's. */
  private async tellAbout(id: string, what: (observer: RunObserver, run: RunView) => void): Promise<void> {
    if (!this.options.observer) return;
    let run: RunView;
    try {
      run = await this.options.runs.get(id);
    } catch {
      return; // Observing is best effort: the run's record was written.
    }
    this.tell((observer) => what(observer, run));
  }

  private tell(what: (observer: RunObserver) => void): void {
    const { observer } = this.options;
    if (!observer) return;
    try {
      what(observer);
    } catch {
      // Observing is best effort: the run's record was written.
    }
  }
}
