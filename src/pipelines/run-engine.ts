import type { RunView, StartRunRequest, WorkQueueStats } from '../contracts/runs.js';
import type { DatasetCatalog } from '../datasets/dataset-catalog.js';
import { FoglineError } from '../errors/fogline-error.js';
import { isMlInputError } from '../ml/errors.js';
import { type ParamSpecs, resolveParams } from '../ml/params.js';
import type { ModelRegistry } from '../registry/model-registry.js';
import type { WorkConsumer, WorkQueue } from '../work-queue/work-queue.js';
import { PIPELINES } from './pipeline-catalog.js';
import type { RunExecutor, RunJob } from './run-executor.js';
import type { RunLedger } from './run-ledger.js';
import type { RunRepository } from './run-repository.js';

export interface RunEngineOptions {
  runs: RunRepository;
  datasets: DatasetCatalog;
  models: ModelRegistry;
  queue: WorkQueue<RunJob>;
  ledger: RunLedger;
}

/** `hidden=64` from a command line means one layer of 64: a lone number where a list is expected becomes a list. */
export function normalizeParams(specs: ParamSpecs, params: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(params).map(([name, value]) => [
      name,
      specs[name]?.type === 'integer-list' && typeof value === 'number' ? [value] : value,
    ]),
  );
}

/**
 * The control plane's side of pipeline runs: checks a request, records the run and puts it on the
 * work queue; lists runs and the queue; cancels. Whoever consumes the queue executes the runs
 * (RunExecutor): this process with --run-concurrency above 0, and `fogline worker` processes
 * when the queue is on Redis. A restart fails no run: unfinished runs are queued again (adding
 * is idempotent), and a run whose worker was lost is taken over by the next one.
 */
export class RunEngine {
  private consumer: WorkConsumer | undefined;

  constructor(private readonly options: RunEngineOptions) {}

  /** Checks the request (pipeline, dataset kind, parameters), records the run and queues it. */
  async start(request: StartRunRequest, createdBy: string | null): Promise<RunView> {
    const definition = PIPELINES[request.pipeline];
    const [datasetName = '', versionText] = request.dataset.split('@');
    const version = versionText === undefined ? undefined : Number(versionText);
    if (version !== undefined && !(Number.isInteger(version) && version > 0)) {
      throw new FoglineError('FOGLINE_ERR_REQUEST_INVALID', `"${request.dataset}" is not a dataset reference: use name or name@version`);
    }
    const dataset = await this.options.datasets.get(datasetName, version);
    if (dataset.kind !== definition.datasetKind) {
      throw new FoglineError(
        'FOGLINE_ERR_DATASET_INVALID',
        `The ${definition.name} pipeline needs a dataset of kind ${definition.datasetKind}; ${dataset.name} is ${dataset.kind}`,
      );
    }
    const params = normalizeParams(definition.params, request.params ?? {});
    let resolved: Record<string, unknown>;
    try {
      resolved = resolveParams(definition.params, params);
    } catch (error) {
      if (isMlInputError(error)) throw new FoglineError('FOGLINE_ERR_PIPELINE_PARAMS_INVALID', error.message, error.details);
      throw error;
    }
    const model = request.model ?? definition.defaultModel(dataset.name);
    if (typeof resolved.warmStartFrom === 'number') await this.checkWarmStart(model, resolved.warmStartFrom, resolved);
    const id = await this.options.runs.create({
      pipeline: definition.name,
      dataset: { name: dataset.name, version: dataset.version },
      model,
      params,
      gate: request.gate ?? 'beat-baseline',
      createdBy,
    });
    try {
      await this.options.queue.add(id, { runId: id });
    } catch (error) {
      await this.options.ledger.finish(id, 'failed', `could not be queued: ${(error as Error).message}`);
      throw new FoglineError(
        'FOGLINE_ERR_WORK_QUEUE_UNAVAILABLE',
        `The run could not be put on the work queue (${(error as Error).message}): check Redis (--redis), then start it again`,
      );
    }
    return this.get(id);
  }

  /** A warm start needs a version of the same model with the same architecture (refused up front, with a 400). */
  private async checkWarmStart(model: string, version: number, params: Record<string, unknown>): Promise<void> {
    let from;
    try {
      from = await this.options.models.getVersion(model, version);
    } catch {
      throw new FoglineError(
        'FOGLINE_ERR_PIPELINE_PARAMS_INVALID',
        `warmStartFrom: ${model} has no version ${version} to start from (fogline models versions ${model})`,
      );
    }
    const keys = ['window', 'horizon', 'target', 'calendar', 'hidden'];
    const mismatched = keys.filter(
      (key) => from.lineage.parameters[key] !== undefined && JSON.stringify(from.lineage.parameters[key]) !== JSON.stringify(params[key]),
    );
    if (from.kind !== 'forecaster' || mismatched.length > 0) {
      throw new FoglineError(
        'FOGLINE_ERR_PIPELINE_PARAMS_INVALID',
        from.kind !== 'forecaster'
          ? `warmStartFrom: ${model} v${version} is not a forecaster (its kind: ${from.kind})`
          : `warmStartFrom: ${model} v${version} has another architecture (${mismatched.map((k) => `${k} ${JSON.stringify(from.lineage.parameters[k])} vs ${JSON.stringify(params[k])}`).join(', ')})`,
      );
    }
  }

  async get(id: string): Promise<RunView> {
    return this.options.runs.get(id);
  }

  async list(query: { status?: RunView['status']; limit?: number }): Promise<RunView[]> {
    return this.options.runs.list(query);
  }

  async queueStats(): Promise<WorkQueueStats> {
    return { kind: this.options.queue.kind, ...(await this.options.queue.stats()) };
  }

  /** A queued run is dropped at once; a running one stops at its worker's next report (a few seconds). */
  async cancel(id: string): Promise<RunView> {
    const run = await this.options.runs.get(id);
    if (run.status !== 'queued' && run.status !== 'running') {
      throw new FoglineError('FOGLINE_ERR_RUN_FINISHED', `Run ${id} has already ${run.status}`);
    }
    await this.options.runs.requestCancel(id);
    if (run.status === 'queued' && (await this.options.queue.remove(id))) {
      await this.options.ledger.finish(id, 'canceled', 'canceled before it started');
    }
    return this.get(id);
  }

  /**
   * On the leader's first start: every unfinished run goes on the queue again. Adding is
   * idempotent, so a run still on the (Redis) queue is not doubled, and a run a live worker holds
   * is answered "retry" by its claim until that worker ends it.
   */
  async recover(): Promise<void> {
    for (const run of await this.options.runs.unfinished()) await this.options.queue.add(run.id, { runId: run.id });
  }

  /** Executes runs from the queue in this process, `concurrency` at once. */
  work(executor: RunExecutor, concurrency: number): void {
    if (concurrency < 1 || this.consumer) return;
    this.consumer = this.options.queue.consume((job, signal) => executor.execute(job.data, signal), { concurrency });
  }

  /** Stops executing: runs in progress go back to the queue (the next start or another worker resumes them). */
  async stop(): Promise<void> {
    await this.consumer?.close();
    this.consumer = undefined;
    await this.options.queue.close();
  }
}
