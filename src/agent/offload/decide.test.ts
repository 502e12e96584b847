import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OFFLOAD_POLICIES } from '../../contracts/deployments.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { decideOffload, expectedLocalMs, type OffloadInputs } from './decide.js';

const GiB = 1024 ** 3;

/** Any state a node can measure. */
const anyInputs = fc.record<OffloadInputs>({
  policy: fc.constantFrom(...OFFLOAD_POLICIES),
  latencyTargetMs: fc.integer({ min: 1, max: 10_000 }),
  waiting: fc.nat({ max: 10_000 }),
  busy: fc.boolean(),
  batchMs: fc.option(fc.double({ min: 0, max: 5000, noNaN: true }), { nil: undefined }),
  maxBatchSize: fc.integer({ min: 1, max: 256 }),
  cpuLoadPerCore: fc.double({ min: 0, max: 64, noNaN: true }),
  eventLoopUtilization: fc.double({ min: 0, max: 1, noNaN: true }),
  memoryFreeBytes: fc.integer({ min: 0, max: 64 * GiB }),
  memoryTotalBytes: fc.integer({ min: 0, max: 64 * GiB }),
  predictorHealthy: fc.boolean(),
  cloudAvailable: fc.boolean(),
  cloudLatencyMs: fc.option(fc.double({ min: 0, max: 10_000, noNaN: true }), { nil: undefined }),
});

/** A healthy node with room to spare, under `auto`, whose queue is what the property varies. */
const calmAuto = (overrides: Partial<OffloadInputs>): OffloadInputs => ({
  policy: 'auto',
  latencyTargetMs: 50,
  waiting: 0,
  busy: false,
  batchMs: 1,
  maxBatchSize: 1,
  cpuLoadPerCore: 0.1,
  eventLoopUtilization: 0.2,
  memoryFreeBytes: 8 * GiB,
  memoryTotalBytes: 16 * GiB,
  predictorHealthy: true,
  cloudAvailable: true,
  cloudLatencyMs: undefined,
  ...overrides,
});

describe('decideOffload', () => {
  it('never offloads under edge-only, whatever the node measures', () => {
    fc.assert(
      fc.property(anyInputs, (inputs) => {
        const decision = decideOffload({ ...inputs, policy: 'edge-only' });
        expect(decision).toMatchObject({ target: 'edge', reason: 'edge-only', fallback: false });
      }),
    );
  });

  it('cloud-only goes to the cloud while it is available, and falls back to the node when it is not', () => {
    fc.assert(
      fc.property(anyInputs, (inputs) => {
        const up = decideOffload({ ...inputs, policy: 'cloud-only', cloudAvailable: true });
        expect(up).toMatchObject({ target: 'cloud', reason: 'cloud-only', fallback: false });
        const down = decideOffload({ ...inputs, policy: 'cloud-only', cloudAvailable: false });
        expect(down).toMatchObject({ target: 'edge', reason: 'cloud-only', fallback: true });
      }),
    );
  });

  it('no policy sends a request to a cloud that is held off', () => {
    fc.assert(
      fc.property(anyInputs, (inputs) => {
        expect(decideOffload({ ...inputs, cloudAvailable: false }).target).toBe('edge');
      }),
    );
  });

  it('auto offloads exactly when the expected wait in the queue exceeds the latency target', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 1000 }),
        fc.boolean(),
        fc.double({ min: 0.01, max: 500, noNaN: true }),
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: 5000 }),
        (waiting, busy, batchMs, maxBatchSize, latencyTargetMs) => {
          const inputs = calmAuto({ waiting, busy, batchMs, maxBatchSize, latencyTargetMs });
          const expected = expectedLocalMs(inputs);
          const decision = decideOffload(inputs);
          expect(decision.target).toBe(expected > latencyTargetMs ? 'cloud' : 'edge');
          expect(decision.reason).toBe(expected > latencyTargetMs ? 'queue' : 'within-target');
          expect(decision.expectedLocalMs).toBeCloseTo(expected);
        },
      ),
    );
  });

  it('auto keeps a request on the node when the cloud has lately been slower than the queue', () => {
    const inputs = calmAuto({ waiting: 9, batchMs: 10, latencyTargetMs: 50, cloudLatencyMs: 500 });
    expect(expectedLocalMs(inputs)).toBe(100);
    expect(decideOffload(inputs)).toMatchObject({ target: 'edge', reason: 'within-target' });
    expect(decideOffload({ ...inputs, cloudLatencyMs: 20 })).toMatchObject({ target: 'cloud', reason: 'queue' });
  });

  it('auto offloads from an unhealthy predictor, a node short of memory, an oversubscribed CPU or a saturated event loop', () => {
    expect(decideOffload(calmAuto({ predictorHealthy: false }))).toMatchObject({ target: 'cloud', reason: 'unhealthy' });
    expect(decideOffload(calmAuto({ memoryFreeBytes: 0.01 * GiB, memoryTotalBytes: 1 * GiB }))).toMatchObject({
      target: 'cloud',
      reason: 'memory',
    });
    expect(decideOffload(calmAuto({ cpuLoadPerCore: 3 }))).toMatchObject({ target: 'cloud', reason: 'cpu' });
    expect(decideOffload(calmAuto({ eventLoopUtilization: 0.95 }))).toMatchObject({ target: 'cloud', reason: 'busy' });
    expect(decideOffload(calmAuto({ cpuLoadPerCore: 3, cloudAvailable: false }))).toMatchObject({
      target: 'edge',
      reason: 'cpu',
      fallback: true,
    });
  });

  it('expects nothing before the first batch, then the running batch, those ahead and its own', () => {
    expect(expectedLocalMs({ waiting: 100, busy: true, batchMs: undefined, maxBatchSize: 1 })).toBe(0);
    expect(expectedLocalMs({ waiting: 0, busy: false, batchMs: 4, maxBatchSize: 8 })).toBe(4);
    expect(expectedLocalMs({ waiting: 7, busy: true, batchMs: 4, maxBatchSize: 8 })).toBe(8);
    expect(expectedLocalMs({ waiting: 8, busy: true, batchMs: 4, maxBatchSize: 8 })).toBe(12);
  });
});

describe('CircuitBreaker', () => {
  it('opens after 3 failures in a row, lets one trial through after the back-off, and doubles it when the trial fails', () => {
    let now = 0;
    const breaker = new CircuitBreaker({ now: () => now, initialBackoffMs: 1000, maxBackoffMs: 3000 });
    breaker.failure();
    breaker.success();
    breaker.failure();
    breaker.failure();
    expect(breaker.state).toBe('closed');
    breaker.failure();
    expect(breaker.state).toBe('open');
    expect(breaker.allow()).toBe(false);
    now = 1000;
    expect(breaker.state).toBe('half-open');
    expect(breaker.allow()).toBe(true);
    expect(breaker.allow()).toBe(false); // one trial at a time
    expect(breaker.available()).toBe(false);
    breaker.failure();
    expect(breaker.state).toBe('open');
    now = 2999;
    expect(breaker.allow()).toBe(false);
    now = 3000;
    expect(breaker.allow()).toBe(true);
    breaker.failure(); // 4 s doubled, capped at 3 s
    now = 5999;
    expect(breaker.state).toBe('open');
    now = 6000;
    expect(breaker.allow()).toBe(true);
    breaker.success();
    expect(breaker.state).toBe('closed');
    expect(breaker.allow()).toBe(true);
  });
});
