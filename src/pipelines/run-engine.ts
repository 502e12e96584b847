import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { FastifyBaseLogger } from 'fastify';
import type { RunProgress, RunView, StartRunRequest } from '../contracts/runs.js';
import type { DatasetCatalog } from '../datasets/dataset-catalog.js';
import { FoglineError } from '../errors/fogline-error.js';
import { isMlInputError } from '../ml/errors.js';
import { type ParamSpecs, resolveParams } from '../ml/params.js';
import type { ModelRegistry } from '../registry/model-registry.js';
import { PIPELINES } from './pipeline-catalog.js';
import type { RunRepository } from './run-repository.js';
import type { FromWorker, ToWorker, WorkerResult } from './worker/worker-protocol.js';
import { compiledEntry } from '../files/compiled-entry.js';

const workerFile = () => compiledEntry(import.meta.url, 'worker/run-worker.js');

export interface RunEngineOptions {
  runs: RunRepository;
  datasets: DatasetCatalog;
  models: ModelRegistry;
  cacheDir: string;
  concurrency: number;
  codeVersion: string;
  log?: FastifyBaseLogger;
  /** Called after a new version is registered (deployments that follow the latest version move). */
  onRegistered?: () => void;
}

interface ActiveRun {
  worker: Worker;
  progress: RunProgress | null;
  /** Database writes of one run happen in message order. */
  chain: Promise<void>;
  cancelTimer?: NodeJS.Timeout;
}

const CANCEL_GRACE_MS = 5000;

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
 * Runs pipelines off the API's event loop: each run gets a worker thread for its prepare, train
 * and evaluate steps; the register step runs here, against the registry. At most `concurrency`
 * runs at once; the rest wait in order.
 */
export class RunEngine {
  private readonly queue: string[] = [];
  private readonly active = new Map<string, ActiveRun>();
  private stopping = false;

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
    this.queue.push(id);
    this.pump();
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
    const run = await this.options.runs.get(id);
    return { ...run, progress: this.active.get(id)?.progress ?? null };
  }

  async list(query: { status?: RunView['status']; limit?: number }): Promise<RunView[]> {
    return (await this.options.runs.list(query)).map((run) => ({ ...run, progress: this.active.get(run.id)?.progress ?? null }));
  }

  async cancel(id: string): Promise<RunView> {
    const run = await this.options.runs.get(id);
    if (run.status !== 'queued' && run.status !== 'running') {
      throw new FoglineError('FOGLINE_ERR_RUN_FINISHED', `Run ${id} has already ${run.status}`);
    }
    const queued = this.queue.indexOf(id);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      await this.finish(id, 'canceled', 'canceled before it started');
    }
    const active = this.active.get(id);
    if (active) {
      active.worker.postMessage({ type: 'cancel' } satisfies ToWorker);
      active.cancelTimer = setTimeout(() => void active.worker.terminate(), CANCEL_GRACE_MS);
    }
    return this.get(id);
  }

  /**
   * After a restart: a run that was running cannot resume mid-epoch, so it is marked failed;
   * queued runs are queued again.
   */
  async recover(): Promise<void> {
    for (const run of await this.options.runs.unfinished()) {
      if (run.status === 'running') await this.finish(run.id, 'failed', 'The control plane stopped during this run; start it again');
      else this.queue.push(run.id);
    }
    this.pump();
  }

  /** Stops every worker; runs in progress are marked failed so that none stays running. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.queue.length = 0;
    await Promise.all(
      [...this.active.entries()].map(async ([id, active]) => {
        clearTimeout(active.cancelTimer);
        await active.worker.terminate();
        await active.chain;
        await this.finish(id, 'failed', 'The control plane shut down during this run; start it again');
      }),
    );
  }

  private pump(): void {
    while (!this.stopping && this.active.size < this.options.concurrency && this.queue.length > 0) {
      const id = this.queue.shift() as string;
      this.launch(id).catch((error: unknown) => {
        this.options.log?.error({ err: error, runId: id }, 'could not start the run');
        // With the database away this fails too; recovery at the next start settles the run.
        this.finish(id, 'failed', (error as Error).message).catch((cause: unknown) =>
          this.options.log?.error({ err: cause, runId: id }, 'could not record the failed start'),
        );
      });
    }
  }

  private async launch(id: string): Promise<void> {
    const run = await this.options.runs.get(id);
    const dataset = await this.options.datasets.get(run.dataset.name, run.dataset.version);
    const worker = new Worker(workerFile());
    const active: ActiveRun = { worker, progress: null, chain: Promise.resolve() };
    this.active.set(id, active);
    await this.options.runs.setStatus(id, 'running');
    let settled = false;
    worker.on('message', (message: FromWorker) => {
      if (message.type === 'done' || message.type === 'failed') settled = true;
      active.chain = active.chain
        .then(() => this.handle(id, run.model, message, active))
        .catch((error: unknown) => {
          this.options.log?.error({ err: error, runId: id }, 'run bookkeeping failed');
        });
    });
    worker.on('error', (error) => {
      settled = true;
      active.chain = active.chain.then(() => this.finish(id, 'failed', `The run's worker crashed: ${error.message}`));
    });
    worker.on('exit', () => {
      clearTimeout(active.cancelTimer);
      void active.chain
        .then(() => (settled || this.stopping ? undefined : this.finish(id, 'canceled', 'canceled')))
        .finally(() => {
          this.active.delete(id);
          this.pump();
        });
    });
    worker.postMessage({
      type: 'run',
      runId: id,
      pipeline: run.pipeline as ToWorker extends { pipeline: infer P } ? P : never,
      dataset: {
        file: await this.options.datasets.filePath(dataset),
        sha256: dataset.sha256,
        read: this.options.datasets.readOptions(dataset),
      },
      params: run.params,
      ...(typeof run.params.warmStartFrom === 'number'
        ? {
            warmStart: {
              file: await this.options.models.artifactPath(await this.options.models.getVersion(run.model, run.params.warmStartFrom)),
              model: run.model,
              version: run.params.warmStartFrom,
            },
          }
        : {}),
      cacheDir: this.options.cacheDir,
      codeVersion: this.options.codeVersion,
    } satisfies ToWorker);
  }

  private async handle(id: string, model: string, message: FromWorker, active: ActiveRun): Promise<void> {
    const { runs } = this.options;
    switch (message.type) {
      case 'step':
        await runs.setStep(id, message.step, message.status, { cacheKey: message.cacheKey, summary: message.summary });
        if (message.status !== 'running')
          await runs.addEvent(id, message.step, 'log', { message: `${message.step} ${message.status}`, ...message.summary });
        return;
      case 'progress': {
        const { progress } = message;
        active.progress =
          progress.phase === 'train' ? { step: message.step, ...progress } : { step: message.step, message: progress.message };
        if (progress.phase === 'train') {
          await runs.addEvent(id, message.step, 'epoch', {
            epoch: progress.epoch,
            epochs: progress.epochs,
            loss: progress.loss,
            valLoss: progress.valLoss,
            elapsedMs: progress.elapsedMs,
          });
        } else {
          await runs.addEvent(id, message.step, 'log', { message: progress.message });
        }
        return;
      }
      case 'log':
        await runs.addEvent(id, message.step, 'log', { message: message.message });
        return;
      case 'failed':
        await runs.setStep(id, message.step, message.canceled ? 'canceled' : 'failed', { error: message.message });
        await this.finish(
          id,
          message.canceled ? 'canceled' : 'failed',
          message.canceled ? 'canceled' : `${message.step} failed: ${message.message}`,
        );
        await active.worker.terminate();
        return;
      case 'done':
        try {
          await this.register(id, model, message.result);
        } catch (error) {
          await runs.setStep(id, 'register', 'failed', { error: (error as Error).message });
          await this.finish(id, 'failed', `register failed: ${(error as Error).message}`);
        }
        await active.worker.terminate();
        return;
    }
  }

  /** The register step: only a model that passed the gate becomes a version. */
  private async register(id: string, model: string, result: WorkerResult): Promise<void> {
    const { runs, models, datasets } = this.options;
    const run = await runs.get(id);
    if (!result.gate.passed && run.gate !== 'none') {
      const reason = `not registered: ${result.gate.metric} ${result.gate.model.toFixed(3)} did not beat ${result.gate.baselineName} (${result.gate.baseline.toFixed(3)})`;
      await runs.setStep(id, 'register', 'skipped', { summary: { gate: result.gate, reason } });
      await runs.addEvent(id, 'register', 'log', { message: reason });
      await runs.setStatus(id, 'succeeded', {
        result: { metrics: result.metrics, gate: result.gate, registered: null },
        registeredVersion: null,
      });
      return;
    }
    await runs.setStep(id, 'register', 'running');
    const dataset = await datasets.get(run.dataset.name, run.dataset.version);
    const version = await models.register({
      model,
      bundle: fs.readFileSync(result.bundleFile),
      framework: 'tfjs',
      kind: result.kind,
      ioSignature: result.ioSignature,
      metrics: result.metrics,
      lineage: {
        runId: id,
        dataset: { name: dataset.name, version: dataset.version, sha256: dataset.sha256 },
        parameters: result.params,
        codeVersion: this.options.codeVersion,
      },
      createdBy: run.createdBy,
    });
    await runs.setStep(id, 'register', 'succeeded', { summary: { model, version: version.version, sha256: version.artifact.sha256 } });
    this.options.onRegistered?.();
    await runs.setStatus(id, 'succeeded', {
      result: { metrics: result.metrics, gate: result.gate, registered: { model, version: version.version } },
      registeredVersion: version.version,
    });
  }

  private async finish(id: string, status: 'failed' | 'canceled', error: string): Promise<void> {
    await this.options.runs.closeOpenSteps(id, status === 'canceled' ? 'canceled' : 'skipped');
    await this.options.runs.setStatus(id, status, { error });
  }
}
