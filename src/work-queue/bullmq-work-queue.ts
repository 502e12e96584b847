import { DelayedError, type Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { MAX_ATTEMPTS } from './in-process-work-queue.js';
import type { ConsumeOptions, JobHandler, QueueStats, WorkConsumer, WorkQueue } from './work-queue.js';

export interface BullMqQueueOptions {
  /** Keeps installations that share one Redis apart (BullMQ's key prefix). */
  prefix: string;
  /**
   * How long a consumer's hold on a job lasts without renewal: a worker killed mid-job is noticed
   * and its job handed to another after about this long (BullMQ's lockDuration and stalled check).
   */
  stalledAfterMs?: number;
}

const QUEUE_NAME = 'runs';
const DEFAULT_STALLED_AFTER_MS = 30_000;
const RETRY_AFTER_THROW_MS = 1000;

/**
 * Jobs on Redis through BullMQ: every control-plane replica adds to the same queue and every
 * `fogline worker` (and replica with --run-concurrency above 0) takes from it. A consumer that dies
 * leaves its job locked until the lock expires; BullMQ's stalled-job check then hands it to another.
 */
export class BullMqWorkQueue<T> implements WorkQueue<T> {
  readonly kind = 'redis' as const;
  private readonly connection: Redis;
  private readonly queue: Queue;
  private readonly consumers = new Set<WorkConsumer>();

  constructor(
    private readonly url: string,
    private readonly options: BullMqQueueOptions,
  ) {
    // Adding fails soon while Redis is away (the caller answers 503) instead of waiting for it.
    this.connection = new Redis(url, { maxRetriesPerRequest: 1 });
    this.connection.on('error', () => undefined);
    this.queue = new Queue(QUEUE_NAME, { connection: this.connection, prefix: options.prefix });
    this.queue.on('error', () => undefined);
  }

  async add(id: string, data: T): Promise<void> {
    await this.queue.add(QUEUE_NAME, data, {
      jobId: id,
      attempts: MAX_ATTEMPTS,
      backoff: { type: 'fixed', delay: RETRY_AFTER_THROW_MS },
      // Finished jobs are gone from Redis: the run record is the history, and an id may be queued again.
      removeOnComplete: true,
      removeOnFail: true,
    });
  }

  async remove(id: string): Promise<boolean> {
    const job = await this.queue.getJob(id);
    if (!job) return false;
    const state = await job.getState();
    if (state !== 'waiting' && state !== 'delayed' && state !== 'prioritized') return false;
    return (await this.queue.remove(id)) === 1;
  }

  async stats(): Promise<QueueStats> {
    const counts = await this.queue.getJobCounts('wait', 'active', 'delayed', 'prioritized');
    const [oldest] = await this.queue.getJobs(['wait', 'prioritized'], 0, 0, true);
    const waiting = (counts.wait ?? 0) + (counts.prioritized ?? 0);
    return {
      waiting,
      active: counts.active ?? 0,
      delayed: counts.delayed ?? 0,
      oldestWaitingSeconds: waiting > 0 && oldest ? Math.max(0, (Date.now() - oldest.timestamp) / 1000) : 0,
    };
  }

  consume(handler: JobHandler<T>, options: ConsumeOptions): WorkConsumer {
    const stalledAfterMs = this.options.stalledAfterMs ?? DEFAULT_STALLED_AFTER_MS;
    // A blocking connection of its own, as BullMQ requires for workers (no request limit).
    const connection = new Redis(this.url, { maxRetriesPerRequest: null });
    connection.on('error', () => undefined);
    const worker = new Worker(
      QUEUE_NAME,
      async (job: Job, token?: string, signal?: AbortSignal) => {
        const outcome = await handler(
          { id: job.id as string, data: job.data as T, attempt: 1 + job.attemptsMade + job.stalledCounter, addedAt: job.timestamp },
          signal ?? new AbortController().signal,
        );
        if (outcome) {
          await job.moveToDelayed(Date.now() + outcome.retryAfterMs, token);
          throw new DelayedError();
        }
      },
      {
        connection,
        prefix: this.options.prefix,
        concurrency: options.concurrency,
        lockDuration: stalledAfterMs,
        stalledInterval: Math.max(1000, Math.floor(stalledAfterMs / 2)),
        // A job whose workers keep dying is failed after its third loss rather than looping.
        maxStalledCount: MAX_ATTEMPTS - 1,
      },
    );
    worker.on('error', () => undefined);
    const consumer: WorkConsumer = {
      close: async () => {
        this.consumers.delete(consumer);
        worker.cancelAllJobs('the worker is stopping');
        await worker.close();
        await connection.quit().catch(() => connection.disconnect());
      },
    };
    this.consumers.add(consumer);
    return consumer;
  }

  async close(): Promise<void> {
    await Promise.all([...this.consumers].map((consumer) => consumer.close()));
    await this.queue.close();
    await this.connection.quit().catch(() => this.connection.disconnect());
  }
}
