import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BullMqWorkQueue } from '../../src/work-queue/bullmq-work-queue.js';
import { InProcessWorkQueue } from '../../src/work-queue/in-process-work-queue.js';
import type { WorkConsumer, WorkJob, WorkQueue } from '../../src/work-queue/work-queue.js';
import { assertRedisReachable, testChannel, testRedisUrl } from '../support/redis.js';

interface Data {
  n: number;
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(20);
  }
}

const IMPLEMENTATIONS: [string, () => WorkQueue<Data>][] = [
  ['in-process', () => new InProcessWorkQueue<Data>()],
  ['BullMQ on Redis', () => new BullMqWorkQueue<Data>(testRedisUrl(), { prefix: testChannel(), stalledAfterMs: 2000 })],
];

describe.each(IMPLEMENTATIONS)('a work queue (%s)', (kind, create) => {
  const opened: { queues: WorkQueue<Data>[]; consumers: WorkConsumer[] } = { queues: [], consumers: [] };
  const open = () => {
    const queue = create();
    opened.queues.push(queue);
    return queue;
  };

  beforeAll(async () => {
    if (kind !== 'in-process') await assertRedisReachable();
  });

  afterEach(async () => {
    await Promise.all(opened.consumers.splice(0).map((consumer) => consumer.close()));
    await Promise.all(opened.queues.splice(0).map((queue) => queue.close()));
  });

  it('hands each job to a consumer once, with its data, in the order added', async () => {
    const queue = open();
    const seen: WorkJob<Data>[] = [];
    for (let n = 0; n < 5; n++) await queue.add(`job-${n}`, { n });
    await queue.add('job-2', { n: 99 });
    opened.consumers.push(queue.consume(async (job) => void seen.push(job), { concurrency: 1 }));
    await until(() => seen.length >= 5);
    await sleep(300);
    expect(seen.map((job) => job.data.n)).toEqual([0, 1, 2, 3, 4]);
    expect(seen.every((job) => job.attempt === 1 && job.addedAt > Date.now() - 60_000)).toBe(true);
  });

  it('runs no more jobs at once than the consumer allows, and reports waiting and active jobs', async () => {
    const queue = open();
    let running = 0;
    let most = 0;
    let release = () => undefined as void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    for (let n = 0; n < 6; n++) await queue.add(`job-${n}`, { n });
    let done = 0;
    opened.consumers.push(
      queue.consume(
        async () => {
          running += 1;
          most = Math.max(most, running);
          await gate;
          running -= 1;
          done += 1;
        },
        { concurrency: 2 },
      ),
    );
    await until(() => running === 2);
    await sleep(200);
    const stats = await queue.stats();
    expect(stats).toMatchObject({ waiting: 4, active: 2, delayed: 0 });
    expect(stats.oldestWaitingSeconds).toBeGreaterThan(0);
    release();
    await until(() => done === 6);
    expect(most).toBe(2);
    await until(async () => (await queue.stats()).active === 0);
    expect(await queue.stats()).toMatchObject({ waiting: 0, active: 0, oldestWaitingSeconds: 0 });
  });

  it('removes a job that has not started, and not one that is running', async () => {
    const queue = open();
    let release = () => undefined as void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const seen: number[] = [];
    await queue.add('first', { n: 1 });
    await queue.add('second', { n: 2 });
    opened.consumers.push(
      queue.consume(
        async (job) => {
          seen.push(job.data.n);
          await gate;
        },
        { concurrency: 1 },
      ),
    );
    await until(() => seen.length === 1);
    expect(await queue.remove('first')).toBe(false);
    expect(await queue.remove('second')).toBe(true);
    expect(await queue.remove('never-added')).toBe(false);
    release();
    await sleep(500);
    expect(seen).toEqual([1]);
  });

  it('gives a job back later when its handler says "not now"', async () => {
    const queue = open();
    const calls: number[] = [];
    await queue.add('later', { n: 1 });
    opened.consumers.push(
      queue.consume(
        async () => {
          calls.push(Date.now());
          return calls.length === 1 ? { retryAfterMs: 600 } : undefined;
        },
        { concurrency: 1 },
      ),
    );
    await until(() => calls.length === 1);
    await sleep(100);
    expect((await queue.stats()).delayed).toBe(1);
    await until(() => calls.length === 2);
    expect(calls[1]! - calls[0]!).toBeGreaterThanOrEqual(500);
  });

  it('tries a job whose handler throws again, as a later attempt', async () => {
    const queue = open();
    const attempts: number[] = [];
    await queue.add('flaky', { n: 1 });
    opened.consumers.push(
      queue.consume(
        async (job) => {
          attempts.push(job.attempt);
          if (job.attempt === 1) throw new Error('lost the dataset download');
        },
        { concurrency: 1 },
      ),
    );
    await until(() => attempts.length === 2);
    expect(attempts).toEqual([1, 2]);
  });

  it('hands the job of a consumer that stops mid-job to another consumer, aborting the first', async () => {
    const queue = open();
    const starts: { consumer: string; attempt: number }[] = [];
    let firstAborted = false;
    const first = queue.consume(
      async (job, signal) => {
        starts.push({ consumer: 'first', attempt: job.attempt });
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        firstAborted = true;
        throw new Error('interrupted');
      },
      { concurrency: 1 },
    );
    await queue.add('long', { n: 1 });
    await until(() => starts.length === 1);
    await first.close();
    expect(firstAborted).toBe(true);
    opened.consumers.push(
      queue.consume(
        async (job) => {
          starts.push({ consumer: 'second', attempt: job.attempt });
        },
        { concurrency: 1 },
      ),
    );
    await until(() => starts.length === 2);
    expect(starts).toEqual([
      { consumer: 'first', attempt: 1 },
      { consumer: 'second', attempt: 2 },
    ]);
  });
});
