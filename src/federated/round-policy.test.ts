import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FederatedJobConfig } from '../contracts/federated.js';
import { resolveJobConfig } from './job-config.js';
import { type JobState, nextStep, quorumOf, sampleClients, sampleSize } from './round-policy.js';

const config: FederatedJobConfig = { ...resolveJobConfig({ model: 'm', datasetKind: 'digits' }), rounds: 3, minFitClients: 2, quorum: 0.5 };
const clients = (n: number) => Array.from({ length: n }, (_, i) => ({ nodeId: `n${i}`, nodeName: `site-${i}` }));

describe('round policy', () => {
  it('samples fractionFit of the available clients, at least minFitClients, never more than there are', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 200 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 1, max: 20 }),
        (n, fraction, min) => {
          const size = sampleSize({ fractionFit: fraction, minFitClients: min }, n);
          if (n < min) expect(size).toBe(0);
          else {
            expect(size).toBeGreaterThanOrEqual(min);
            expect(size).toBeLessThanOrEqual(n);
            expect(size).toBeGreaterThanOrEqual(Math.min(n, Math.ceil(fraction * n - 1e-9)));
          }
        },
      ),
    );
  });

  it('picks distinct available clients, the same ones for the same seed', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), fc.string(), (n, seed) => {
        const available = clients(n);
        const count = Math.ceil(n / 2);
        const picked = sampleClients(available, count, seed);
        expect(new Set(picked.map((c) => c.nodeId)).size).toBe(count);
        expect(sampleClients([...available].reverse(), count, seed)).toEqual(picked);
      }),
    );
  });

  it('needs a quorum of at least one', () => {
    expect(quorumOf({ quorum: 0 }, 4)).toBe(1);
    expect(quorumOf({ quorum: 0.5 }, 4)).toBe(2);
    expect(quorumOf({ quorum: 0.5 }, 3)).toBe(2);
    expect(quorumOf({ quorum: 1 }, 3)).toBe(3);
  });

  const open = (answered: number, accepted: number, deadlineAt = 10_000): JobState => ({
    config,
    roundsCompleted: 0,
    failedAttempts: 0,
    open: { round: 1, attempt: 1, sampled: clients(4), deadlineAt, answered, accepted },
  });

  it('waits for clients, opens a round, aggregates when all answered or at the deadline with quorum, else fails it', () => {
    const idle: JobState = { config, roundsCompleted: 0, open: null, failedAttempts: 0 };
    expect(nextStep('j', idle, clients(1), 0)).toMatchObject({ kind: 'wait' });
    expect(nextStep('j', idle, clients(4), 0)).toMatchObject({ kind: 'start-round', round: 1, attempt: 1, deadlineAt: 60_000 });
    expect(nextStep('j', open(2, 2), [], 5_000)).toMatchObject({ kind: 'wait' });
    expect(nextStep('j', open(4, 3), [], 5_000)).toMatchObject({ kind: 'aggregate', round: 1 });
    expect(nextStep('j', open(2, 2), [], 10_000)).toMatchObject({ kind: 'aggregate', round: 1 });
    expect(nextStep('j', open(4, 1), [], 5_000)).toMatchObject({ kind: 'fail-round' });
    expect(nextStep('j', open(1, 1), [], 10_000)).toMatchObject({ kind: 'fail-round' });
    expect(nextStep('j', { ...idle, failedAttempts: 1 }, clients(4), 0)).toMatchObject({ kind: 'start-round', round: 1, attempt: 2 });
    expect(nextStep('j', { ...idle, failedAttempts: 3 }, clients(4), 0)).toMatchObject({ kind: 'fail-job' });
    expect(nextStep('j', { ...idle, roundsCompleted: 3 }, clients(4), 0)).toEqual({ kind: 'finish' });
  });
});
