/**
 * A queue of long jobs (pipeline runs today) and the consumers that take them: in this process
 * (the embedded default) or on Redis through BullMQ, shared by every replica and `fogline worker`.
 * Both implementations pass one conformance suite (test/work-queue).
 */

export interface WorkJob<T> {
  /** Unique per job: adding a job whose id is already waiting or running adds nothing. */
  id: string;
  data: T;
  /** 1 the first time; more when a consumer was lost or stopped while it ran the job. */
  attempt: number;
  /** When the job was first added (ms since the epoch). */
  addedAt: number;
}

/** What a handler tells the queue: done (nothing), or "not now, try again in this long". */
export type JobOutcome = void | { retryAfterMs: number };

/**
 * Runs one job. `signal` aborts when the consumer stops: the handler should then throw quickly,
 * and the job goes back to the queue for another consumer. A handler that returns has finished
 * the job for good (its own failures are the handler's to record).
 */
export type JobHandler<T> = (job: WorkJob<T>, signal: AbortSignal) => Promise<JobOutcome>;

export interface QueueStats {
  waiting: number;
  active: number;
  /** Waiting for a retry time ("not now"). */
  delayed: number;
  /** Age of the job that has waited longest, seconds; 0 with none waiting. */
  oldestWaitingSeconds: number;
}

export interface ConsumeOptions {
  /** Jobs this consumer runs at once. */
  concurrency: number;
}

export interface WorkConsumer {
  /** Stops taking jobs, aborts the ones running (they go back to the queue) and waits for them. */
  close(): Promise<void>;
}

export interface WorkQueue<T> {
  /** Where jobs live, for logs and `fogline runs list`: "in-process" or "redis". */
  readonly kind: 'in-process' | 'redis';
  add(id: string, data: T): Promise<void>;
  /** Drops a job that has not started; false when it is running, finished or unknown. */
  remove(id: string): Promise<boolean>;
  stats(): Promise<QueueStats>;
  consume(handler: JobHandler<T>, options: ConsumeOptions): WorkConsumer;
  /** Closes the queue's connections (consumers first). */
  close(): Promise<void>;
}

/** Thrown by a handler (or by the queue for it) when its consumer stopped mid-job. */
export class JobInterrupted extends Error {
  constructor() {
    super('the worker stopped during this job; it goes back to the queue');
    this.name = 'JobInterrupted';
  }
}
