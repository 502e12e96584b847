import { setTimeout as sleep } from 'node:timers/promises';
import { type ConsumeOptions, type JobHandler, type QueueStats, type WorkConsumer, type WorkJob, type WorkQueue } from './work-queue.js';

/** Like the BullMQ queue: a job whose handler throws is tried this many times in all. */
export const MAX_ATTEMPTS = 3;
const RETRY_AFTER_THROW_MS = 1000;

interface Settled<T> {
  entry: Entry<T>;
  ending: 'done' | 'threw' | 'interrupted' | { retryAt: number };
}

interface Entry<T> {
  job: WorkJob<T>;
  /** Not before this time (ms), for "try again later". */
  readyAt: number;
}

/**
 * The embedded default: jobs in this process's memory, taken in order. What it holds is lost with
 * the process; whoever uses it re-adds its unfinished work at start (the run engine does).
 */
export class InProcessWorkQueue<T> implements WorkQueue<T> {
  readonly kind = 'in-process' as const;
  private readonly waiting: Entry<T>[] = [];
  private readonly active = new Set<string>();
  private readonly consumers = new Set<InProcessConsumer<T>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  async add(id: string, data: T): Promise<void> {
    if (this.active.has(id) || this.waiting.some((entry) => entry.job.id === id)) return;
    this.waiting.push({ job: { id, data, attempt: 1, addedAt: this.now() }, readyAt: 0 });
    this.pump();
  }

  async remove(id: string): Promise<boolean> {
    const index = this.waiting.findIndex((entry) => entry.job.id === id);
    if (index < 0) return false;
    this.waiting.splice(index, 1);
    return true;
  }

  async stats(): Promise<QueueStats> {
    const now = this.now();
    const ready = this.waiting.filter((entry) => entry.readyAt <= now);
    const oldest = Math.min(...ready.map((entry) => entry.job.addedAt));
    return {
      waiting: ready.length,
      active: this.active.size,
      delayed: this.waiting.length - ready.length,
      oldestWaitingSeconds: ready.length === 0 ? 0 : Math.max(0, (now - oldest) / 1000),
    };
  }

  consume(handler: JobHandler<T>, options: ConsumeOptions): WorkConsumer {
    const consumer = new InProcessConsumer(handler, options.concurrency, (entry) => this.settle(entry), this);
    this.consumers.add(consumer);
    this.pump();
    return {
      close: async () => {
        this.consumers.delete(consumer);
        await consumer.close();
      },
    };
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    await Promise.all([...this.consumers].map((consumer) => consumer.close()));
    this.consumers.clear();
  }

  /** Hands ready jobs to consumers with room, in order; wakes up again for the next delayed one. */
  pump(): void {
    clearTimeout(this.timer);
    const now = this.now();
    for (const consumer of this.consumers) {
      while (consumer.hasRoom()) {
        const index = this.waiting.findIndex((entry) => entry.readyAt <= now);
        if (index < 0) break;
        const [entry] = this.waiting.splice(index, 1) as [Entry<T>];
        this.active.add(entry.job.id);
        consumer.run(entry);
      }
    }
    const next = Math.min(...this.waiting.map((entry) => entry.readyAt));
    if (Number.isFinite(next) && next > now && this.consumers.size > 0) {
      this.timer = setTimeout(() => this.pump(), next - now);
      this.timer.unref();
    }
  }

  private settle({ entry, ending }: Settled<T>): void {
    this.active.delete(entry.job.id);
    const { job } = entry;
    if (ending === 'interrupted') this.waiting.unshift({ job: { ...job, attempt: job.attempt + 1 }, readyAt: 0 });
    else if (ending === 'threw' && job.attempt < MAX_ATTEMPTS)
      this.waiting.push({ job: { ...job, attempt: job.attempt + 1 }, readyAt: this.now() + RETRY_AFTER_THROW_MS });
    else if (typeof ending === 'object') this.waiting.push({ job, readyAt: ending.retryAt });
    this.pump();
  }
}

class InProcessConsumer<T> {
  private readonly running = new Map<string, Promise<void>>();
  private readonly abort = new AbortController();

  constructor(
    private readonly handler: JobHandler<T>,
    private readonly concurrency: number,
    private readonly settle: (settled: Settled<T>) => void,
    private readonly queue: { pump(): void },
  ) {}

  hasRoom(): boolean {
    return !this.abort.signal.aborted && this.running.size < this.concurrency;
  }

  run(entry: Entry<T>): void {
    const work = (async (): Promise<Settled<T>['ending']> => {
      // A job starts on a later tick, never inside add(): the caller's own bookkeeping comes first.
      await sleep(0);
      try {
        const outcome = await this.handler(entry.job, this.abort.signal);
        return outcome ? { retryAt: Date.now() + outcome.retryAfterMs } : 'done';
      } catch {
        // A handler records its own failures; a throw means "could not finish it here".
        return this.abort.signal.aborted ? 'interrupted' : 'threw';
      }
    })().then((ending) => {
      // Room first, then the queue hands out the next job.
      this.running.delete(entry.job.id);
      this.settle({ entry, ending });
    });
    this.running.set(entry.job.id, work);
  }

  async close(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled([...this.running.values()]);
    this.queue.pump();
  }
}
