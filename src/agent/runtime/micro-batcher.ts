/** An idle gap after which the time per batch is measured afresh (ms). */
const IDLE_RESET_MS = 1000;
/** How many recent batches the time per batch is the median of. */
const RECENT_BATCHES = 9;

export interface BatchOptions {
  /** Most requests run in one batch (1: no batching). */
  maxBatchSize: number;
  /**
   * How long the first request of a batch waits for others when the predictor is idle; 0 sends it
   * on the next turn of the event loop (with whatever arrived in the same turn). While a batch
   * runs, requests gather anyway and go together as soon as it ends, so batches form under load
   * without slowing a lone request.
   */
  maxDelayMs: number;
}

/** One item's own result inside a batch: its value, or its own error. */
export type Settled<O> = { ok: true; value: O } | { ok: false; error: unknown };

/** A request's result and how it ran, for the serving observer. */
export interface Batched<O> {
  value: O;
  batchSize: number;
  queueSeconds: number;
  computeSeconds: number;
}

/** Rejects an item whose caller went away while it waited: nobody is left to read its answer. */
export class AbandonedError extends Error {
  constructor() {
    super('the caller went away before the request reached the model');
  }
}

/** A failure, with the batch it ran in (counted by the serving observer too). */
export class BatchItemError extends Error {
  constructor(
    readonly error: unknown,
    readonly batchSize: number,
    readonly queueSeconds: number,
    readonly computeSeconds: number,
  ) {
    super(error instanceof Error ? error.message : String(error), { cause: error });
  }
}

interface Queued<I, O> {
  item: I;
  /** Aborted when the caller has gone (its client closed the connection): the item is dropped, not computed. */
  signal: AbortSignal | undefined;
  enqueuedAt: number;
  resolve: (result: Batched<O>) => void;
  reject: (error: BatchItemError) => void;
}

/**
 * Gathers concurrent requests into batches of at most `maxBatchSize` and runs one batch at a time
 * (a predictor is one thread: running two at once only queues the second inside it). `run` gets
 * the items in arrival order and answers each one; when it throws, every item of the batch fails
 * with that error. Each submitter gets exactly its own item's result.
 */
export class MicroBatcher<I, O> {
  private readonly queue: Queued<I, O>[] = [];
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private scheduled = false;
  /** The last RECENT_BATCHES batch times, ms (a ring). */
  private readonly recentMs: number[] = [];
  private recentNext = 0;
  private lastBatchEnd = 0;

  constructor(
    private readonly run: (items: I[]) => Promise<Settled<O>[]>,
    private readonly options: BatchOptions,
  ) {
    if (!Number.isInteger(options.maxBatchSize) || options.maxBatchSize < 1) throw new Error('maxBatchSize must be an integer >= 1');
    if (!(options.maxDelayMs >= 0)) throw new Error('maxDelayMs must be >= 0');
  }

  /** Requests waiting for a batch (not counting the batch running now). */
  get waiting(): number {
    return this.queue.length;
  }

  /** Whether a batch is running now (the next one waits for it). */
  get busy(): boolean {
    return this.running;
  }

  /**
   * How long one batch has taken lately: the median of the last RECENT_BATCHES batches, in ms
   * (one slow batch — a GC pause, a busy machine — does not move it); undefined before the first.
   * After an idle second it starts again from the next batch. With `waiting` it gives the wait a
   * new request can expect.
   */
  get batchMs(): number | undefined {
    const recent = this.recentMs;
    if (recent.length === 0) return undefined;
    // Idle for a second: the old times are stale (a cold first batch, a burst long over), so the
    // figure is unknown until the next batch measures it again.
    if (!this.running && this.queue.length === 0 && performance.now() - this.lastBatchEnd > IDLE_RESET_MS) return undefined;
    const sorted = [...recent].sort((a, b) => a - b);
    const middle = sorted.length >> 1;
    return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1]! + sorted[middle]!) / 2;
  }

  /**
   * Queues `item` for the next batch. An item whose `signal` is aborted by the time its batch
   * forms is dropped with an `AbandonedError` (batch size 0): under overload, a node whose clients
   * time out would otherwise spend its CPU on answers nobody reads, and fall further behind.
   */
  submit(item: I, signal?: AbortSignal): Promise<Batched<O>> {
    return new Promise<Batched<O>>((resolve, reject) => {
      this.queue.push({ item, signal, enqueuedAt: performance.now(), resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0) return;
    if (this.queue.length >= this.options.maxBatchSize) {
      this.dispatch();
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    const go = () => {
      this.scheduled = false;
      this.timer = undefined;
      this.dispatch();
    };
    if (this.options.maxDelayMs > 0 && this.options.maxBatchSize > 1) this.timer = setTimeout(go, this.options.maxDelayMs);
    else setImmediate(go);
  }

  private dispatch(): void {
    if (this.running || this.queue.length === 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.scheduled = false;
    const started = performance.now();
    const batch: Queued<I, O>[] = [];
    while (batch.length < this.options.maxBatchSize && this.queue.length > 0) {
      const queued = this.queue.shift()!;
      if (queued.signal?.aborted) queued.reject(new BatchItemError(new AbandonedError(), 0, (started - queued.enqueuedAt) / 1000, 0));
      else batch.push(queued);
    }
    if (batch.length === 0) return;
    this.running = true;
    const finish = (settled: (i: number) => Settled<O>) => {
      const computeSeconds = (performance.now() - started) / 1000;
      const ms = computeSeconds * 1000;
      // After an idle second the old times say little (slow batches on a machine busy then).
      if (started - this.lastBatchEnd > IDLE_RESET_MS) {
        this.recentMs.length = 0;
        this.recentNext = 0;
      }
      if (this.recentMs.length < RECENT_BATCHES) this.recentMs.push(ms);
      else this.recentMs[this.recentNext] = ms;
      this.recentNext = (this.recentNext + 1) % RECENT_BATCHES;
      this.lastBatchEnd = performance.now();
      batch.forEach((queued, i) => {
        const queueSeconds = (started - queued.enqueuedAt) / 1000;
        const result = settled(i);
        if (result.ok) queued.resolve({ value: result.value, batchSize: batch.length, queueSeconds, computeSeconds });
        else queued.reject(new BatchItemError(result.error, batch.length, queueSeconds, computeSeconds));
      });
      this.running = false;
      // Those that gathered meanwhile have waited a batch already: they go now, together.
      this.dispatch();
    };
    let work: Promise<Settled<O>[]>;
    try {
      work = this.run(batch.map((queued) => queued.item));
    } catch (error) {
      work = Promise.reject(error);
    }
    work.then(
      (results) =>
        finish((i) => results[i] ?? { ok: false, error: new Error(`the batch answered ${results.length} of ${batch.length} items`) }),
      (error: unknown) => finish(() => ({ ok: false, error })),
    );
  }
}
