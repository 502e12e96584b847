import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  advanceRollout,
  assignedVersion,
  canaryCount,
  initialRollout,
  MIN_SOAK_REQUESTS,
  type NodeReport,
  NothingToRollBackTo,
  requestRollback,
  type RolloutPolicy,
  type RolloutState,
} from './rollout.js';

const NODES = ['n1', 'n2', 'n3', 'n4', 'n5'];
const ALL: RolloutPolicy = { strategy: 'all', canaryPercent: 20, soakMs: 60_000, maxErrorRate: 0.01 };
const ROLLING: RolloutPolicy = { ...ALL, strategy: 'rolling' };
const CANARY: RolloutPolicy = { ...ALL, strategy: 'canary', canaryPercent: 40 };

/** A tiny fleet: nodes load what the rollout assigns them, and count requests. */
class Fleet {
  now = 1_000_000;
  reports = new Map<string, NodeReport>();
  constructor(
    public state: RolloutState,
    readonly policy: RolloutPolicy,
    readonly nodes: string[] = [...NODES],
  ) {}

  step(resolvedVersion: number | null): RolloutState {
    this.state = advanceRollout(this.state, this.policy, {
      now: this.now,
      resolvedVersion,
      placedNodes: this.nodes,
      reports: this.reports,
    });
    return this.state;
  }

  /** Every node loads what it is assigned; `failing` versions fail to load. */
  sync(failing: number[] = []): void {
    for (const node of this.nodes) {
      const version = assignedVersion(this.state, node);
      const before = this.reports.get(node);
      // Agents retry a version that failed before when a new rollout hands it out again.
      if (version === null || (before?.version === version && (before.state !== 'failed' || before.updatedAt >= this.state.startedAt)))
        continue;
      this.reports.set(
        node,
        failing.includes(version)
          ? {
              version,
              state: 'failed',
              reason: 'signature mismatch',
              requests: before?.requests ?? 0,
              errors: before?.errors ?? 0,
              updatedAt: this.now,
            }
          : { version, state: 'serving', reason: null, requests: 0, errors: 0, updatedAt: this.now },
      );
    }
  }

  serveRequests(count: number, errors: number): void {
    for (const [node, report] of this.reports) {
      if (this.state.updatedNodes.includes(node))
        this.reports.set(node, { ...report, requests: report.requests + count, errors: report.errors + errors });
    }
  }

  /** Steps and syncs until nothing changes any more. */
  settle(resolvedVersion: number | null, failing: number[] = []): RolloutState {
    for (let i = 0; i < 50; i += 1) {
      const before = JSON.stringify([this.state, [...this.reports]]);
      this.step(resolvedVersion);
      this.sync(failing);
      if (JSON.stringify([this.state, [...this.reports]]) === before) break;
    }
    return this.state;
  }

  assignments(): (number | null)[] {
    return this.nodes.map((node) => assignedVersion(this.state, node));
  }
}

function deployedAt(version: number, policy: RolloutPolicy): Fleet {
  const fleet = new Fleet(initialRollout(0), policy);
  fleet.settle(version);
  return fleet;
}

describe('rollouts', () => {
  it('sends the first version everywhere at once, whatever the strategy, and remembers it as good', () => {
    for (const policy of [ALL, ROLLING, CANARY]) {
      const fleet = new Fleet(initialRollout(0), policy);
      fleet.step(1);
      expect(fleet.assignments()).toEqual([1, 1, 1, 1, 1]);
      expect(fleet.settle(1)).toMatchObject({ phase: 'stable', stableVersion: 1, goodVersions: [1] });
    }
  });

  it('all: a moved alias goes to every node at once and completes when every node serves it', () => {
    const fleet = deployedAt(1, ALL);
    fleet.step(2);
    expect(fleet.state.phase).toBe('updating');
    expect(fleet.assignments()).toEqual([2, 2, 2, 2, 2]);
    expect(fleet.settle(2)).toMatchObject({ phase: 'stable', stableVersion: 2, goodVersions: [1, 2] });
  });

  it('rolling: one node at a time, the next only once the previous ones serve it', () => {
    const fleet = deployedAt(1, ROLLING);
    fleet.step(2);
    expect(fleet.assignments()).toEqual([2, 1, 1, 1, 1]);
    fleet.step(2);
    // n1 has not reported the new version yet: nothing moves.
    expect(fleet.assignments()).toEqual([2, 1, 1, 1, 1]);
    fleet.sync();
    fleet.step(2);
    expect(fleet.assignments()).toEqual([2, 2, 1, 1, 1]);
    expect(fleet.settle(2)).toMatchObject({ phase: 'stable', stableVersion: 2 });
    expect(fleet.assignments()).toEqual([2, 2, 2, 2, 2]);
  });

  it('rolling: a node that fails the new version rolls every node back and blocks that version', () => {
    const fleet = deployedAt(1, ROLLING);
    const state = fleet.settle(2, [2]);
    expect(state).toMatchObject({ phase: 'rolled-back', stableVersion: 1, blockedVersions: [2] });
    expect(state.history.at(-1)?.message).toContain('signature mismatch');
    expect(fleet.assignments()).toEqual([1, 1, 1, 1, 1]);
    // The alias still points at 2: it is not tried again...
    expect(fleet.settle(2)).toMatchObject({ phase: 'rolled-back' });
    // ...until the alias moves on.
    expect(fleet.settle(3)).toMatchObject({ phase: 'stable', stableVersion: 3, blockedVersions: [] });
  });

  it('canary: the canary share first, soaks, then promotes to every node', () => {
    const fleet = deployedAt(1, CANARY);
    fleet.step(2);
    expect(canaryCount(5, 40)).toBe(2);
    expect(fleet.assignments()).toEqual([2, 2, 1, 1, 1]);
    fleet.sync();
    expect(fleet.step(2).phase).toBe('soaking');
    fleet.serveRequests(100, 0);
    fleet.now += 30_000;
    expect(fleet.step(2).phase).toBe('soaking');
    fleet.now += 30_000;
    expect(fleet.step(2).phase).toBe('promoting');
    expect(fleet.assignments()).toEqual([2, 2, 2, 2, 2]);
    expect(fleet.settle(2)).toMatchObject({ phase: 'stable', stableVersion: 2 });
    expect(fleet.state.history.map((e) => e.event)).toEqual(['started', 'completed', 'started', 'canary-healthy', 'promoted', 'completed']);
  });

  it('canary: an error rate over the budget during the soak rolls back; a few errors below the minimum sample do not', () => {
    const fleet = deployedAt(1, CANARY);
    fleet.step(2);
    fleet.sync();
    fleet.step(2);
    fleet.serveRequests(2, 2);
    expect(fleet.step(2).phase).toBe('soaking');
    fleet.serveRequests(MIN_SOAK_REQUESTS, 3);
    const state = fleet.step(2);
    expect(state).toMatchObject({ phase: 'rolled-back', stableVersion: 1, blockedVersions: [2] });
    expect(state.history.at(-1)?.message).toMatch(/error rate .* over 1\.0%/);
    expect(fleet.assignments()).toEqual([1, 1, 1, 1, 1]);
  });

  it('canary: a canary node that fails to load rolls back before any other node sees the version', () => {
    const fleet = deployedAt(1, CANARY);
    fleet.step(2);
    fleet.sync([2]);
    expect(fleet.step(2)).toMatchObject({ phase: 'rolled-back', stableVersion: 1 });
    expect(NODES.map((node) => fleet.reports.get(node)?.version)).toEqual([2, 2, 1, 1, 1]);
    expect(fleet.assignments()).toEqual([1, 1, 1, 1, 1]);
  });

  it('rollback: an unfinished rollout returns to the stable version; a finished one to the good version before it', () => {
    const fleet = deployedAt(1, ROLLING);
    fleet.settle(2);
    fleet.step(3);
    fleet.state = requestRollback(fleet.state, fleet.now);
    expect(fleet.state).toMatchObject({ phase: 'rolled-back', stableVersion: 2, blockedVersions: [3] });
    expect(fleet.assignments()).toEqual([2, 2, 2, 2, 2]);
    fleet.state = requestRollback(fleet.state, fleet.now);
    expect(fleet.state).toMatchObject({ phase: 'rolled-back', stableVersion: 1, goodVersions: [1] });
    expect(fleet.settle(3)).toMatchObject({ phase: 'rolled-back', stableVersion: 1 });
    expect(fleet.assignments()).toEqual([1, 1, 1, 1, 1]);
    expect(() => requestRollback(fleet.state, fleet.now)).toThrow(NothingToRollBackTo);
    expect(() => requestRollback(initialRollout(0), 0)).toThrow(NothingToRollBackTo);
  });

  it('moving the alias back to the stable version mid-rollout ends the rollout there', () => {
    const fleet = deployedAt(1, ROLLING);
    fleet.step(2);
    expect(fleet.step(1)).toMatchObject({ phase: 'stable', stableVersion: 1, targetVersion: 1 });
    expect(fleet.assignments()).toEqual([1, 1, 1, 1, 1]);
  });

  it('never hands a node a version other than the stable one, the target, or none; and settles on what the selector says', () => {
    const policyArb = fc.record({
      strategy: fc.constantFrom('all' as const, 'rolling' as const, 'canary' as const),
      canaryPercent: fc.integer({ min: 1, max: 100 }),
      soakMs: fc.constantFrom(0, 1000, 60_000),
      maxErrorRate: fc.constantFrom(0, 0.01, 0.5),
    });
    const actionArb = fc.oneof(
      fc.record({ kind: fc.constant('alias' as const), version: fc.integer({ min: 1, max: 4 }) }),
      fc.record({ kind: fc.constant('sync' as const), failing: fc.subarray([1, 2, 3, 4]) }),
      fc.record({ kind: fc.constant('time' as const), ms: fc.integer({ min: 0, max: 90_000 }) }),
      fc.record({ kind: fc.constant('traffic' as const), requests: fc.nat(50), errors: fc.nat(5) }),
      fc.record({ kind: fc.constant('nodes' as const), count: fc.integer({ min: 0, max: 5 }) }),
      fc.record({ kind: fc.constant('rollback' as const) }),
    );
    fc.assert(
      fc.property(policyArb, fc.array(actionArb, { maxLength: 40 }), (policy, actions) => {
        let placed = NODES;
        let alias = 1;
        const fleet = new Fleet(initialRollout(0), policy);
        for (const action of actions) {
          if (action.kind === 'alias') alias = action.version;
          if (action.kind === 'sync') fleet.sync(action.failing);
          if (action.kind === 'time') fleet.now += action.ms;
          if (action.kind === 'traffic') fleet.serveRequests(action.requests, Math.min(action.errors, action.requests));
          if (action.kind === 'nodes') placed = NODES.slice(0, action.count);
          if (action.kind === 'rollback') {
            try {
              fleet.state = requestRollback(fleet.state, fleet.now);
            } catch (error) {
              expect(error).toBeInstanceOf(NothingToRollBackTo);
            }
          }
          fleet.state = advanceRollout(fleet.state, policy, {
            now: fleet.now,
            resolvedVersion: alias,
            placedNodes: placed,
            reports: fleet.reports,
          });
          const allowed = new Set([fleet.state.stableVersion, fleet.state.targetVersion]);
          for (const node of NODES) expect(allowed.has(assignedVersion(fleet.state, node))).toBe(true);
          expect(fleet.state.history.length).toBeLessThanOrEqual(30);
          expect(new Set(fleet.state.updatedNodes).size).toBe(fleet.state.updatedNodes.length);
        }
        // With every node healthy and time passing, the rollout ends: on the selector's version,
        // or rolled back (then on a good version, or on nothing when the first version failed);
        // only `all` (and a first version) stays on 'updating', showing a node that failed it.
        fleet.nodes.splice(0, fleet.nodes.length, ...placed);
        for (let i = 0; i < 20; i += 1) {
          fleet.now += 120_000;
          fleet.settle(alias);
        }
        const { phase, stableVersion, targetVersion } = fleet.state;
        if (phase === 'updating') {
          const failed = placed.filter(
            (node) => fleet.reports.get(node)?.version === targetVersion && fleet.reports.get(node)?.state === 'failed',
          );
          expect(failed.length).toBeGreaterThan(0);
          return;
        }
        expect(['stable', 'rolled-back']).toContain(phase);
        if (phase === 'stable' && placed.length > 0) expect(stableVersion).toBe(alias);
        if (stableVersion !== null && phase === 'stable') expect(fleet.state.goodVersions.at(-1)).toBe(stableVersion);
      }),
      { numRuns: 300 },
    );
  });
  it('a preferred canary goes first to those nodes, whatever the strategy; a failing one rolls back with the preference cleared', () => {
    for (const policy of [ALL, ROLLING, CANARY]) {
      const fleet = deployedAt(1, policy);
      fleet.state = { ...fleet.state, preferredCanary: { version: 2, nodes: ['n4'] } };
      fleet.step(2);
      expect(fleet.state).toMatchObject({ phase: 'canary', updatedNodes: ['n4'] });
      expect(fleet.assignments()).toEqual([1, 1, 1, 2, 1]);
      fleet.sync();
      fleet.step(2);
      expect(fleet.state.phase).toBe('soaking');
      fleet.now += policy.soakMs;
      expect(fleet.settle(2)).toMatchObject({ phase: 'stable', stableVersion: 2, preferredCanary: null });
      // The next version, with n2 preferred, fails there: every node stays on 2.
      fleet.state = { ...fleet.state, preferredCanary: { version: 3, nodes: ['n2'] } };
      fleet.step(3);
      expect(fleet.assignments()).toEqual([2, 3, 2, 2, 2]);
      expect(fleet.settle(3, [3])).toMatchObject({ phase: 'rolled-back', stableVersion: 2, blockedVersions: [3], preferredCanary: null });
      expect(fleet.assignments()).toEqual([2, 2, 2, 2, 2]);
    }
  });

  it('with a preferred canary, no node outside it gets the new version before the preferred ones soaked healthy', () => {
    const policyArb = fc.record({
      strategy: fc.constantFrom('all' as const, 'rolling' as const, 'canary' as const),
      canaryPercent: fc.integer({ min: 1, max: 100 }),
      soakMs: fc.constantFrom(0, 1000, 60_000),
      maxErrorRate: fc.constantFrom(0, 0.01, 0.5),
    });
    const actionArb = fc.oneof(
      fc.record({ kind: fc.constant('sync' as const), failing: fc.subarray([2]) }),
      fc.record({ kind: fc.constant('time' as const), ms: fc.integer({ min: 0, max: 90_000 }) }),
      fc.record({ kind: fc.constant('traffic' as const), requests: fc.nat(50), errors: fc.nat(5) }),
    );
    fc.assert(
      fc.property(
        policyArb,
        fc.subarray(NODES, { minLength: 1 }),
        fc.array(actionArb, { maxLength: 30 }),
        fc.boolean(),
        (policy, preferred, actions, failing) => {
          const fleet = deployedAt(1, policy);
          fleet.state = { ...fleet.state, preferredCanary: { version: 2, nodes: preferred } };
          let soakedHealthy = false;
          for (const action of [...actions, { kind: 'sync' as const, failing: [] as number[] }]) {
            if (action.kind === 'sync') fleet.sync(failing ? [2] : action.failing);
            if (action.kind === 'time') fleet.now += action.ms;
            if (action.kind === 'traffic') fleet.serveRequests(action.requests, Math.min(action.errors, action.requests));
            fleet.step(2);
            if (fleet.state.history.some((e) => e.version === 2 && e.event === 'promoted')) soakedHealthy = true;
            if (!soakedHealthy) {
              for (const node of NODES) {
                if (!preferred.includes(node)) expect(assignedVersion(fleet.state, node)).toBe(1);
              }
            }
          }
          for (let i = 0; i < 20; i += 1) {
            fleet.now += 120_000;
            fleet.settle(2, failing ? [2] : []);
          }
          // It ends on the new version everywhere, or rolled back with every node on the champion.
          if (failing) expect(fleet.state).toMatchObject({ phase: 'rolled-back', stableVersion: 1 });
          if (fleet.state.phase === 'rolled-back') expect(fleet.assignments()).toEqual([1, 1, 1, 1, 1]);
          else expect(fleet.state).toMatchObject({ phase: 'stable', stableVersion: 2 });
          expect(fleet.state.preferredCanary).toBeNull();
        },
      ),
      { numRuns: 300 },
    );
  });
});
