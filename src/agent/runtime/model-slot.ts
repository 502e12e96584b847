import type { InferInput, InferOutput } from '../../ml/bundle/infer-tensors.js';
import type { LoadedPredictor } from '../../ml/bundle/load-bundle.js';
import { predictBatch } from './batch-tensors.js';
import { LatencyWindow } from './latency-window.js';
import { type Batched, type BatchOptions, MicroBatcher } from './micro-batcher.js';

/** A version loaded into a slot, with the requests it is still answering. */
export interface LoadedVersion {
  version: number;
  sha256: string;
  predictor: LoadedPredictor;
  /** The model's name in the registry (the deployment's name when not given). */
  model?: string;
  /** How long loading and warming up took, for the serving observer. */
  loadSeconds?: number;
}

/** Requests answered by the version serving now, since it took over. */
export interface SlotUsage {
  version: number;
  requests: number;
  errors: number;
  /** Over the last requests answered (see LatencyWindow); absent before the first. */
  latencyP50Ms?: number;
  latencyP99Ms?: number;
}

/** What a request arriving now would queue behind (see MicroBatcher). */
export interface SlotQueue {
  waiting: number;
  busy: boolean;
  /** Recent time per batch, ms; undefined before the first batch. */
  batchMs: number | undefined;
  maxBatchSize: number;
}

interface Active extends LoadedVersion {
  batcher: MicroBatcher<InferInput[], InferOutput[]>;
  inFlight: number;
  requests: number;
  errors: number;
  latency: LatencyWindow;
  retired: boolean;
  drained: () => void;
}

/** No batching: each request is its own predict call. */
export const NO_BATCHING: BatchOptions = { maxBatchSize: 1, maxDelayMs: 0 };

/**
 * What one deployment serves. `swap` switches to a new version in one assignment: requests that
 * started on the old version finish on it, new ones go to the new one, and the old predictor is
 * disposed only once its last request has answered, so no request fails across a switch.
 * Requests to a version go through its micro-batcher (see MicroBatcher).
 */
export class ModelSlot {
  private active: Active;

  constructor(
    initial: LoadedVersion,
    private readonly batching: BatchOptions = NO_BATCHING,
  ) {
    this.active = activate(initial, batching);
  }

  get version(): number {
    return this.active.version;
  }

  get model(): string | undefined {
    return this.active.model;
  }

  get sha256(): string {
    return this.active.sha256;
  }

  get predictor(): LoadedPredictor {
    return this.active.predictor;
  }

  /** The serving version's queue: requests waiting, whether a batch runs, the recent time per batch. */
  queue(): SlotQueue {
    const { batcher } = this.active;
    return { waiting: batcher.waiting, busy: batcher.busy, batchMs: batcher.batchMs, maxBatchSize: this.batching.maxBatchSize };
  }

  usage(): SlotUsage {
    const { version, requests, errors, latency } = this.active;
    const quantiles = latency.quantiles();
    return { version, requests, errors, ...(quantiles ? { latencyP50Ms: quantiles.p50, latencyP99Ms: quantiles.p99 } : {}) };
  }

  /** Runs `work` on the version serving now; a swap meanwhile waits for it before disposing. */
  async use<T>(work: (loaded: LoadedVersion) => Promise<T>): Promise<T> {
    const active = this.active;
    active.inFlight += 1;
    try {
      return await work(active);
    } finally {
      active.inFlight -= 1;
      if (active.retired && active.inFlight === 0) active.drained();
    }
  }

  /**
   * Predicts with the version serving now, in a batch with concurrent requests. `isServerError`
   * tells which failures count as errors in `usage()` (a client's bad input does not).
   */
  infer(
    inputs: InferInput[],
    isServerError: (error: unknown) => boolean,
    signal?: AbortSignal,
  ): { loaded: LoadedVersion; result: Promise<Batched<InferOutput[]>> } {
    const active = this.active;
    active.requests += 1;
    const started = performance.now();
    const result = this.use(() => active.batcher.submit(inputs, signal));
    result.then(
      () => active.latency.push(performance.now() - started),
      (error: unknown) => {
        if (isServerError(error)) active.errors += 1;
      },
    );
    return { loaded: active, result };
  }

  /** Switches to `next` (already loaded and warmed up) and frees the old version once drained. */
  async swap(next: LoadedVersion): Promise<void> {
    const old = this.active;
    this.active = activate(next, this.batching);
    await retire(old);
  }

  /** Frees the serving version after its in-flight requests (the deployment was removed). */
  async close(): Promise<void> {
    await retire(this.active);
  }
}

function activate(loaded: LoadedVersion, batching: BatchOptions): Active {
  const batcher = new MicroBatcher<InferInput[], InferOutput[]>((items) => predictBatch(loaded.predictor, items), batching);
  return {
    ...loaded,
    batcher,
    inFlight: 0,
    requests: 0,
    errors: 0,
    latency: new LatencyWindow(),
    retired: false,
    drained: () => undefined,
  };
}

async function retire(old: Active): Promise<void> {
  old.retired = true;
  if (old.inFlight > 0) await new Promise<void>((resolve) => (old.drained = resolve));
  old.predictor.dispose();
}
