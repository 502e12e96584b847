import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AbandonedError, type BatchItemError, MicroBatcher, type Settled } from './micro-batcher.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('MicroBatcher', () => {
  it('gives every request exactly its own result, whatever the arrival pattern, in batches never over the maximum', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.constantFrom(0, 1),
        fc.array(fc.record({ gap: fc.constantFrom(0, 0, 0, 1, 2), value: fc.integer(), bad: fc.boolean() }), {
          minLength: 1,
          maxLength: 30,
        }),
        fc.array(fc.constantFrom(0, 1, 2), { minLength: 1, maxLength: 5 }),
        async (maxBatchSize, maxDelayMs, arrivals, latencies) => {
          const batches: number[][] = [];
          let running = 0;
          let overlapped = false;
          const batcher = new MicroBatcher<number, number>(
            async (items): Promise<Settled<number>[]> => {
              running += 1;
              overlapped ||= running > 1;
              batches.push(items);
              await sleep(latencies[batches.length % latencies.length] ?? 0);
              running -= 1;
              // Odd values fail on their own; the rest answer with their own value doubled.
              return items.map((item) => (item % 2 !== 0 ? { ok: false, error: new Error(`odd ${item}`) } : { ok: true, value: item * 2 }));
            },
            { maxBatchSize, maxDelayMs },
          );
          const answers: Promise<{ value?: number; error?: string; batchSize: number }>[] = [];
          for (const arrival of arrivals) {
            if (arrival.gap > 0) await sleep(arrival.gap);
            const item = arrival.bad ? arrival.value * 2 + 1 : arrival.value * 2;
            answers.push(
              batcher.submit(item).then(
                (r) => ({ value: r.value, batchSize: r.batchSize }),
                (e: BatchItemError) => ({ error: e.message, batchSize: e.batchSize }),
              ),
            );
          }
          const settled = await Promise.all(answers);
          settled.forEach((answer, i) => {
            const arrival = arrivals[i]!;
            const item = arrival.bad ? arrival.value * 2 + 1 : arrival.value * 2;
            if (arrival.bad) expect(answer.error).toBe(`odd ${item}`);
            else expect(answer.value).toBe(item * 2);
            expect(answer.batchSize).toBeGreaterThanOrEqual(1);
            expect(answer.batchSize).toBeLessThanOrEqual(maxBatchSize);
          });
          expect(batches.every((b) => b.length >= 1 && b.length <= maxBatchSize)).toBe(true);
          expect(batches.flat()).toHaveLength(arrivals.length);
          expect(overlapped).toBe(false);
          expect(batcher.waiting).toBe(0);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('fails every request of a batch whose run throws, and keeps serving later ones', async () => {
    let fail = true;
    const batcher = new MicroBatcher<number, number>(
      async (items) => {
        if (fail) throw new Error('predictor crashed');
        return items.map((value) => ({ ok: true, value }));
      },
      { maxBatchSize: 4, maxDelayMs: 0 },
    );
    const first = await Promise.allSettled([batcher.submit(1), batcher.submit(2)]);
    expect(first.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(((first[0] as PromiseRejectedResult).reason as BatchItemError).error).toEqual(new Error('predictor crashed'));
    fail = false;
    expect((await batcher.submit(3)).value).toBe(3);
  });

  it('batches requests that arrive while a batch runs, and reports the wait and the batch', async () => {
    const sizes: number[] = [];
    // The first batch runs until released, so the others surely arrive while it runs, however
    // busy the machine is.
    let release!: () => void;
    const firstBatchHeld = new Promise<void>((resolve) => (release = resolve));
    const batcher = new MicroBatcher<number, number>(
      async (items) => {
        sizes.push(items.length);
        await (sizes.length === 1 ? firstBatchHeld : sleep(20));
        return items.map((value) => ({ ok: true, value }));
      },
      { maxBatchSize: 3, maxDelayMs: 0 },
    );
    const first = batcher.submit(0);
    while (sizes.length === 0) await sleep(1);
    const rest = [1, 2, 3, 4].map((i) => batcher.submit(i));
    await sleep(20);
    release();
    const results = await Promise.all([first, ...rest]);
    expect(results.map((r) => r.value)).toEqual([0, 1, 2, 3, 4]);
    expect(sizes).toEqual([1, 3, 1]);
    expect(results[1]!.batchSize).toBe(3);
    expect(results[1]!.queueSeconds).toBeGreaterThan(0.01);
    expect(results[1]!.computeSeconds).toBeGreaterThan(0.01);
  });

  it('drops requests whose caller has gone before their batch runs, and computes only the others', async () => {
    const computed: number[][] = [];
    const batcher = new MicroBatcher<number, number>(
      async (items) => {
        computed.push(items);
        await sleep(20);
        return items.map((item) => ({ ok: true, value: item }));
      },
      { maxBatchSize: 1, maxDelayMs: 0 },
    );
    const gone = [new AbortController(), new AbortController(), new AbortController()];
    // 1 runs at once; 2..5 wait behind it; the callers of 2, 3 and 5 give up while 1 computes.
    const answers = [1, 2, 3, 4, 5].map((n) =>
      batcher.submit(n, n === 2 ? gone[0]!.signal : n === 3 ? gone[1]!.signal : n === 5 ? gone[2]!.signal : undefined).then(
        (r) => r.value,
        (error: BatchItemError) => error.error,
      ),
    );
    await sleep(5);
    for (const controller of gone) controller.abort();
    const results = await Promise.all(answers);
    expect(results[0]).toBe(1);
    expect(results[3]).toBe(4);
    for (const i of [1, 2, 4]) expect(results[i]).toBeInstanceOf(AbandonedError);
    expect(computed).toEqual([[1], [4]]);
    // A caller still there after the drops is served as usual.
    expect((await batcher.submit(6, new AbortController().signal)).value).toBe(6);
  });

  it('refuses a maximum batch size below 1', () => {
    expect(() => new MicroBatcher(async () => [], { maxBatchSize: 0, maxDelayMs: 0 })).toThrow(/maxBatchSize/);
  });

  it('takes the time per batch as the median of recent batches (one slow batch does not move it), afresh after an idle second', async () => {
    const delays = [2, 2, 2, 2, 2, 80, 40];
    let n = 0;
    const batcher = new MicroBatcher<number, number>(
      async (items) => {
        await sleep(delays[n++] ?? 0);
        return items.map((value) => ({ ok: true, value }));
      },
      { maxBatchSize: 1, maxDelayMs: 0 },
    );
    expect(batcher.batchMs).toBeUndefined();
    for (let i = 0; i < 6; i++) await batcher.submit(i);
    // Five quick batches and one of 80 ms: the median stays with the quick ones.
    expect(batcher.batchMs).toBeLessThan(30);
    await sleep(1100);
    // Idle for a second: unknown until the next batch measures it.
    expect(batcher.batchMs).toBeUndefined();
    await batcher.submit(6);
    // After an idle second, the 40 ms batch alone is the figure.
    expect(batcher.batchMs).toBeGreaterThanOrEqual(35);
  });
});
