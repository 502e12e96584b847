import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OFFLOAD_POLICIES, OVERLOAD_MODES } from '../../contracts/deployments.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { decideOffload, expectedLocalMs, type OffloadInputs, SHED_FACTOR } from './decide.js';

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
  memoryFreeBytes: fc.integer({ min: 0, max: 64 * GiB }),
  memoryTotalBytes: fc.integer({ min: 0, max: 64 * GiB }),
  predictorHealthy: fc.boolean(),
  cloudAvailable: fc.boolean(),
  edgeHasBudget: fc.boolean(),
  cloudHasRoom: fc.boolean(),
  cloudExpectedMs: fc.option(fc.double({ min: 0, max: 10_000, noNaN: true }), { nil: undefined }),
  overload: fc.constantFrom(...OVERLOAD_MODES),
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
  memoryFreeBytes: 8 * GiB,
  memoryTotalBytes: 16 * GiB,
  predictorHealthy: true,
  cloudAvailable: true,
  edgeHasBudget: true,
  cloudHasRoom: true,
  cloudExpectedMs: undefined,
  overload: 'shed',
  ...overrides,
});

describe('decideOffload', () => {
  it('never offloads or sheds under edge-only, whatever the node measures', () => {
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
        expect(decideOffload({ ...inputs, cloudAvailable: false }).target).not.toBe('cloud');
      }),
    );
  });

  it('auto sheds only when neither side is expected within the target, and never with overload mode queue', () => {
    fc.assert(
      fc.property(anyInputs, (drawn) => {
        const inputs = { ...drawn, policy: 'auto' as const };
        const decision = decideOffload(inputs);
        if (decision.target !== 'shed') return;
        expect(inputs.overload).toBe('shed');
        expect(decision.reason).toBe('overload');
        expect(expectedLocalMs(inputs)).toBeGreaterThan(inputs.latencyTargetMs);
        // The cloud is full or away, and the node has work outstanding past twice the target: an idle node always takes the request.
        expect(inputs.cloudAvailable && inputs.cloudHasRoom).toBe(false);
        expect(inputs.busy || inputs.waiting > 0).toBe(true);
        expect(expectedLocalMs(inputs)).toBeGreaterThan(SHED_FACTOR * inputs.latencyTargetMs);
      }),
    );
    fc.assert(
      fc.property(anyInputs, (drawn) => {
        expect(decideOffload({ ...drawn, overload: 'queue' }).target).not.toBe('shed');
      }),
    );
  });

  it('auto runs a request on the node when the node is within the target with budget and no later than an in-time cloud', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 1000 }),
        fc.boolean(),
        fc.double({ min: 0.01, max: 500, noNaN: true }),
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: 5000 }),
        fc.option(fc.double({ min: 0, max: 10_000, noNaN: true }), { nil: undefined }),
        (waiting, busy, batchMs, maxBatchSize, latencyTargetMs, cloudExpectedMs) => {
          const inputs = calmAuto({ waiting, busy, batchMs, maxBatchSize, latencyTargetMs, cloudExpectedMs });
          const expected = expectedLocalMs(inputs);
          const decision = decideOffload(inputs);
          expect(decision.expectedLocalMs).toBeCloseTo(expected);
          const cloudMs = cloudExpectedMs ?? 0;
          const cloudInTime = cloudMs <= latencyTargetMs;
          if (expected <= latencyTargetMs && (!cloudInTime || expected <= cloudMs))
            expect(decision).toMatchObject({ target: 'edge', reason: 'within-target' });
          // Both in time and the cloud sooner: the cloud.
          else if (expected <= latencyTargetMs) expect(decision).toMatchObject({ target: 'cloud', reason: 'sooner' });
          // Past the target with a cloud that has room: never the node.
          else expect(decision.target).toBe('cloud');
        },
      ),
    );
  });

  it('auto past the target on both sides still sends a request to a cloud with room, or a node with nothing outstanding', () => {
    const overloaded = calmAuto({ waiting: 0, busy: false, batchMs: 100, cloudExpectedMs: 500, cloudHasRoom: false });
    expect(decideOffload(overloaded)).toMatchObject({ target: 'edge', reason: 'overload' });
    const busyNode = { ...overloaded, busy: true, cloudHasRoom: true };
    expect(decideOffload(busyNode)).toMatchObject({ target: 'cloud', reason: 'overload' });
    expect(decideOffload({ ...busyNode, cloudAvailable: false })).toMatchObject({ target: 'shed', reason: 'overload' });
    expect(decideOffload({ ...busyNode, cloudHasRoom: false })).toMatchObject({ target: 'shed', reason: 'overload' });
  });

  it('auto sends a request past the node to the cloud while the cloud has room, else sheds', () => {
    const past = calmAuto({ waiting: 19, batchMs: 10, latencyTargetMs: 50 });
    expect(expectedLocalMs(past)).toBe(200);
    expect(decideOffload(past)).toMatchObject({ target: 'cloud', reason: 'queue' });
    expect(decideOffload({ ...past, cloudExpectedMs: 80 })).toMatchObject({ target: 'cloud', reason: 'queue', expectedCloudMs: 80 });
    expect(decideOffload({ ...past, cloudExpectedMs: 500 })).toMatchObject({ target: 'cloud', reason: 'overload' });
    expect(decideOffload({ ...past, cloudExpectedMs: 500, busy: true })).toMatchObject({ target: 'cloud', reason: 'overload' });
    expect(decideOffload({ ...past, cloudHasRoom: false })).toMatchObject({ target: 'shed', reason: 'overload' });
    expect(decideOffload({ ...past, cloudAvailable: false })).toMatchObject({ target: 'shed', reason: 'overload' });
    // A little past the target (within twice it) the node still takes it.
    expect(decideOffload({ ...past, waiting: 8, cloudHasRoom: false })).toMatchObject({ target: 'edge', reason: 'overload' });
    expect(decideOffload({ ...past, cloudExpectedMs: 500, overload: 'queue' })).toMatchObject({ target: 'edge', reason: 'overload' });
    expect(decideOffload({ ...past, cloudExpectedMs: 90, cloudHasRoom: false, overload: 'queue' })).toMatchObject({
      target: 'edge',
      reason: 'overload',
    });
  });

  it('auto forwards when the node is in time but its compute budget is spent, unless the cloud cannot do better', () => {
    const spent = calmAuto({ batchMs: 10, edgeHasBudget: false });
    expect(decideOffload(spent)).toMatchObject({ target: 'cloud', reason: 'busy' });
    expect(decideOffload({ ...spent, cloudExpectedMs: 200 })).toMatchObject({ target: 'edge', reason: 'within-target' });
    expect(decideOffload({ ...spent, cloudHasRoom: false })).toMatchObject({ target: 'edge', reason: 'within-target' });
    expect(decideOffload({ ...spent, cloudAvailable: false })).toMatchObject({ target: 'edge', reason: 'within-target' });
  });

  it('auto offloads from an unhealthy predictor, a node short of memory or an oversubscribed CPU', () => {
    expect(decideOffload(calmAuto({ predictorHealthy: false }))).toMatchObject({ target: 'cloud', reason: 'unhealthy' });
    expect(decideOffload(calmAuto({ memoryFreeBytes: 0.01 * GiB, memoryTotalBytes: 1 * GiB }))).toMatchObject({
      target: 'cloud',
      reason: 'memory',
    });
    expect(decideOffload(calmAuto({ cpuLoadPerCore: 3 }))).toMatchObject({ target: 'cloud', reason: 'cpu' });
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
