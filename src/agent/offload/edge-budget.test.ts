import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CloudEstimate } from './cloud-estimate.js';
import { EdgeBudget } from './edge-budget.js';

/** A clock the test moves. */
function clock(): { now: () => number; advance(ms: number): void } {
  let at = 0;
  return { now: () => at, advance: (ms) => (at += ms) };
}

describe('EdgeBudget', () => {
  it('lets a calm node run everything while the loop has room, and forwards the excess once arrivals outgrow it', () => {
    const time = clock();
    const budget = new EdgeBudget({ now: time.now, maxUtilization: 0.8, initialForwardShare: 0.1 });
    const cost = 10; // ms per prediction: 100 per second at most
    const runLocally = (ratePerSecond: number, seconds: number): number => {
      let local = 0;
      for (let i = 0; i < ratePerSecond * seconds; i++) {
        time.advance(1000 / ratePerSecond);
        budget.arrived();
        if (budget.take(cost)) local += 1;
      }
      return local / seconds;
    };
    // 40/s is half the budget: all of it runs here.
    expect(runLocally(40, 2)).toBeGreaterThanOrEqual(39);
    // 400/s: forwarding 400/s at 1 ms each leaves 400 ms/s; each local one costs 9 ms more: ~44/s.
    const local = runLocally(400, 2);
    expect(local).toBeGreaterThan(35);
    expect(local).toBeLessThan(50);
    expect(budget.state(cost).localRate).toBeCloseTo(400 / 9, 0);
  });

  it('forwards a burst arriving at a calm node within a few requests', () => {
    const time = clock();
    const budget = new EdgeBudget({ now: time.now });
    let local = 0;
    for (let i = 0; i < 100; i++) {
      time.advance(2); // 500/s against 10 ms predictions: far past what the node can do
      budget.arrived();
      if (budget.take(10)) local += 1;
    }
    // Runs here only what its budget affords, not the first quarter-second of the burst.
    expect(local).toBeLessThanOrEqual(12);
  });

  it('learns what forwarding costs from the event loop, and budgets less when forwarding is dear', () => {
    const time = clock();
    const budget = new EdgeBudget({ now: time.now, maxUtilization: 0.8 });
    for (let i = 0; i < 200; i++) {
      time.advance(5);
      budget.arrived();
      budget.routed('cloud');
    }
    // 200 forwarded in a second, the loop 60% busy: 3 ms each.
    budget.observeLoop(0.6, 1000);
    expect(budget.forwardCostMs(10)).toBeCloseTo(3, 5);
    // At 200/s: 800 − 600 = 200 ms/s left, 7 ms more per local request.
    expect(budget.localRate(10)).toBeCloseTo(200 / 7, 3);
    // Fewer than five forwarded in a reading say nothing.
    budget.routed('cloud');
    budget.observeLoop(1, 1000);
    expect(budget.forwardCostMs(10)).toBeCloseTo(3, 5);
  });

  it('scales the local rate down while the loop reads busier than aimed at with local work in it, and back up when calm', () => {
    const time = clock();
    const budget = new EdgeBudget({ now: time.now, maxUtilization: 0.7 });
    const full = budget.localRate(10);
    expect(full).toBeCloseTo(70);
    budget.routed('edge', 10);
    budget.observeLoop(1, 100);
    expect(budget.localRate(10)).toBeCloseTo(full * 0.7);
    // Busy from forwarding alone: the model already counts it.
    budget.observeLoop(1, 100);
    expect(budget.localRate(10)).toBeCloseTo(full * 0.7);
    for (let i = 0; i < 10; i++) budget.observeLoop(0.2, 100);
    expect(budget.localRate(10)).toBeCloseTo(full);
    // A loop that gets to what is due late, with local work in the window: scaled down too.
    budget.routed('edge', 10);
    budget.observeLoop(0.3, 100, 15, 10);
    expect(budget.localRate(10)).toBeCloseTo(full * 0.7);
  });

  it('never gives a negative or non-finite local rate, and admits before anything is measured', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 2000, noNaN: true }), { maxLength: 50 }),
        fc.double({ min: 0.001, max: 1000, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (gaps, cost, utilization) => {
          const time = clock();
          const budget = new EdgeBudget({ now: time.now });
          expect(budget.take(undefined)).toBe(true);
          for (const gap of gaps) {
            time.advance(gap);
            budget.arrived();
            budget.routed(budget.take(cost) ? 'edge' : 'cloud', cost);
          }
          budget.observeLoop(utilization, 100);
          const rate = budget.localRate(cost);
          expect(rate).toBeGreaterThanOrEqual(0);
          expect(Number.isFinite(rate)).toBe(true);
          expect(budget.arrivalRate()).toBeGreaterThanOrEqual(0);
        },
      ),
    );
  });
});

describe('CloudEstimate', () => {
  it('expects the round trip net of the reported queue, plus the queue the cloud reports now', () => {
    const time = clock();
    const cloud = new CloudEstimate({ now: time.now, queueMemoryMs: 1000 });
    expect(cloud.expectedMs()).toBeUndefined();
    cloud.started();
    cloud.finished({ ms: 30, ok: true, reportedQueueMs: 20 }, 50);
    expect(cloud.expectedMs()).toBeCloseTo(30);
    time.advance(500); // the report fades over a second
    expect(cloud.expectedMs()).toBeCloseTo(20);
    time.advance(600);
    expect(cloud.expectedMs()).toBeCloseTo(10);
  });

  it('grows the outstanding limit while answers are in time and cuts it when they come past twice the target or fail', () => {
    const time = clock();
    const cloud = new CloudEstimate({ now: time.now, initialLimit: 4, minLimit: 2 });
    for (let i = 0; i < 40; i++) {
      cloud.started();
      time.advance(5);
      cloud.finished({ ms: 5, ok: true }, 50);
    }
    const grown = cloud.limit;
    expect(grown).toBeGreaterThan(4);
    // Somewhat late (under twice the target): the limit stays.
    for (let i = 0; i < 5; i++) {
      cloud.started();
      cloud.finished({ ms: 90, ok: true }, 50);
    }
    expect(cloud.limit).toBe(grown);
    // A window of very late answers cuts once, not once per answer.
    for (let i = 0; i < 5; i++) {
      cloud.started();
      cloud.finished({ ms: 400, ok: true }, 50);
    }
    expect(cloud.limit).toBe(Math.floor(Math.max(2, grown * 0.8)));
    time.advance(1000);
    for (let i = 0; i < 20; i++) {
      time.advance(2100);
      cloud.finished({ ms: 2000, ok: false }, 50);
    }
    expect(cloud.limit).toBe(2);
    expect(cloud.inFlight).toBe(0);
  });

  it('holds the cloud’s reported queue to the target where it reports one, not the round trip', () => {
    const time = clock();
    const cloud = new CloudEstimate({ now: time.now, initialLimit: 4 });
    // Slow round trips (the node's own loop was busy) but a short queue in the cloud: no cut.
    for (let i = 0; i < 10; i++) {
      cloud.started();
      time.advance(500);
      cloud.finished({ ms: 300, ok: true, reportedQueueMs: 5 }, 50);
    }
    expect(cloud.limit).toBeGreaterThanOrEqual(5);
    // The cloud's own queue past twice the target: cut.
    const before = cloud.limit;
    cloud.started();
    cloud.finished({ ms: 300, ok: true, reportedQueueMs: 150 }, 50);
    expect(cloud.limit).toBe(Math.floor(Math.max(2, before * 0.8)));
  });

  it('has no room once the outstanding requests reach the limit', () => {
    const cloud = new CloudEstimate({ initialLimit: 3 });
    cloud.started();
    cloud.started();
    expect(cloud.hasRoom()).toBe(true);
    cloud.started();
    expect(cloud.hasRoom()).toBe(false);
    cloud.finished({ ms: 1, ok: true }, 50);
    expect(cloud.hasRoom()).toBe(true);
  });
});
