import { Worker } from 'node:worker_threads';
import { FoglineError } from '../errors/fogline-error.js';
import type { BundleManifest, ModelSignature } from '../ml/bundle/bundle-manifest.js';
import type { InferInput, InferOutput } from '../ml/bundle/infer-tensors.js';
import type { LoadBundleOptions, LoadedPredictor } from '../ml/bundle/load-bundle.js';
import { MlInputError } from '../ml/errors.js';
import type { NetworkRuntime } from '../ml/tf/network.js';
import type { FromPredictorWorker, PredictorWorkerData, ToPredictorWorker, WorkerFailure } from './predictor-protocol.js';
import { compiledEntry } from '../files/compiled-entry.js';

const workerFile = () => compiledEntry(import.meta.url, 'predictor-worker.js');

export interface WorkerPredictorOptions {
  /** A model that takes longer than this to load is given up on (its worker stopped). */
  loadTimeoutMs?: number;
  /** How the worker loads the bundle (runtime, ONNX Runtime threads and provider). */
  bundle?: LoadBundleOptions;
  /** A batch that takes longer than this is taken for a hung worker: it is stopped and restarted. */
  timeoutMs?: number;
  /** Restarts allowed in a minute; after that the predictor fails every request (503). */
  maxRestartsPerMinute?: number;
  /** Told when the worker stops unexpectedly, and whether it came back. */
  onCrash?: (event: { reason: string; restarted: boolean }) => void;
}

interface Pending {
  resolve: (outputs: InferOutput[]) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

interface Started {
  worker: Worker;
  manifest: BundleManifest;
  kind: string;
  signature: ModelSignature;
  runtime: NetworkRuntime;
}

/**
 * A model version in its own worker thread, behind the same interface as an in-process predictor.
 * A worker that dies (crash, out of memory, a batch over `timeoutMs`) fails the requests inside it
 * with FOGLINE_ERR_MODEL_CRASHED (503, never a hung request) and is started again from the same
 * bytes; requests that arrive meanwhile wait for the new worker. Past `maxRestartsPerMinute` it
 * stays down and every request fails at once with the same error.
 */
export class WorkerPredictor implements LoadedPredictor {
  readonly kind: string;
  readonly signature: ModelSignature;
  readonly manifest: BundleManifest;
  readonly runtime: NetworkRuntime;
  private worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private disposed = false;
  private restarting: Promise<void> | undefined;
  private failed: string | undefined;
  private readonly restarts: number[] = [];

  private constructor(
    private readonly bytes: Uint8Array,
    started: Started,
    private readonly options: Required<Pick<WorkerPredictorOptions, 'timeoutMs' | 'maxRestartsPerMinute'>> & WorkerPredictorOptions,
  ) {
    this.kind = started.kind;
    this.signature = started.signature;
    this.manifest = started.manifest;
    this.runtime = started.runtime;
    this.worker = started.worker;
    this.watch(this.worker);
  }

  /** Starts a worker on `bytes` and resolves once the bundle has loaded in it. */
  static async start(bytes: Uint8Array, options: WorkerPredictorOptions = {}): Promise<WorkerPredictor> {
    const started = await spawn(bytes, options);
    return new WorkerPredictor(bytes, started, { timeoutMs: 30_000, maxRestartsPerMinute: 3, ...options });
  }

  async predict(inputs: InferInput[]): Promise<InferOutput[]> {
    if (this.restarting) await this.restarting;
    if (this.disposed) throw new Error('This model version has been unloaded');
    if (this.failed)
      throw new FoglineError('FOGLINE_ERR_MODEL_CRASHED', `The model's worker stopped and was not restarted: ${this.failed}`);
    const id = this.nextId++;
    const worker = this.worker;
    return new Promise<InferOutput[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.crashed(worker, `a request took over ${this.options.timeoutMs} ms`);
        void worker.terminate();
      }, this.options.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      worker.postMessage({ type: 'predict', id, inputs } satisfies ToPredictorWorker);
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.failAll(new Error('This model version has been unloaded'));
    void this.worker.terminate();
  }

  /** For tests: stops the worker the way a crash would. */
  crashForTest(): Promise<number> {
    return this.worker.terminate();
  }

  private watch(worker: Worker): void {
    worker.on('message', (message: FromPredictorWorker) => {
      if (message.type !== 'result' && message.type !== 'failed') return;
      const pending = this.pending.get(message.id);
      if (!pending) return;
      this.pending.delete(message.id);
      clearTimeout(pending.timer);
      if (message.type === 'result') pending.resolve(message.outputs);
      else pending.reject(toError(message.failure));
    });
    worker.on('error', (error) => this.crashed(worker, error.message));
    worker.on('exit', (code) => this.crashed(worker, `the worker exited with code ${code}`));
  }

  private crashed(worker: Worker, reason: string): void {
    if (worker !== this.worker || this.disposed || this.restarting || this.failed) return;
    this.failAll(new FoglineError('FOGLINE_ERR_MODEL_CRASHED', `The model's worker stopped (${reason}); retry shortly`));
    const now = Date.now();
    this.restarts.push(now);
    while (this.restarts.length > 0 && (this.restarts[0] ?? now) < now - 60_000) this.restarts.shift();
    if (this.restarts.length > this.options.maxRestartsPerMinute) {
      this.failed = `${reason}; ${this.restarts.length} crashes in a minute`;
      this.options.onCrash?.({ reason, restarted: false });
      return;
    }
    this.restarting = spawn(this.bytes, this.options).then(
      (started) => {
        this.restarting = undefined;
        if (this.disposed) {
          void started.worker.terminate();
          return;
        }
        this.worker = started.worker;
        this.watch(started.worker);
        this.options.onCrash?.({ reason, restarted: true });
      },
      (error: unknown) => {
        this.restarting = undefined;
        this.failed = `${reason}; restarting it failed: ${(error as Error).message}`;
        this.options.onCrash?.({ reason, restarted: false });
      },
    );
  }

  private failAll(error: Error): void {
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(error);
      this.pending.delete(id);
    }
  }
}

/** Starts a worker and waits for its bundle to load (or fail to). */
function spawn(bytes: Uint8Array, options: WorkerPredictorOptions): Promise<Started> {
  const worker = new Worker(workerFile(), { workerData: { bytes, options: options.bundle ?? {} } satisfies PredictorWorkerData });
  return new Promise<Started>((resolve, reject) => {
    const timer = options.loadTimeoutMs
      ? setTimeout(() => fail(new Error(`the model did not load within ${options.loadTimeoutMs} ms`)), options.loadTimeoutMs)
      : undefined;
    // Only our own listeners come off: Worker keeps internal ones (removeAllListeners() would stop its port).
    const detach = () => {
      clearTimeout(timer);
      worker.off('error', fail);
      worker.off('exit', exited);
      worker.off('message', first);
    };
    function fail(error: Error) {
      detach();
      void worker.terminate();
      reject(error);
    }
    function exited(code: number) {
      fail(new Error(`the predictor worker exited with code ${code} while loading`));
    }
    function first(message: FromPredictorWorker) {
      detach();
      if (message.type === 'loaded') resolve({ worker, ...message });
      else if (message.type === 'load-failed') fail(toError(message.failure));
      else fail(new Error(`unexpected first message from the predictor worker: ${message.type}`));
    }
    worker.on('error', fail);
    worker.on('exit', exited);
    worker.on('message', first);
  });
}

function toError(failure: WorkerFailure): Error {
  return failure.problem ? new MlInputError(failure.problem, failure.message) : new Error(failure.message);
}
