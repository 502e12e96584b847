import { describe, expect, it } from 'vitest';
import { advanceRollout, assignedVersion, initialRollout, type NodeReport, type RolloutPolicy, type RolloutState } from './rollout.js';

const ROLLING: RolloutPolicy = { strategy: 'rolling', canaryPercent: 20, soakMs: 60_000, maxErrorRate: 0.01 };
const CANARY: RolloutPolicy = { ...ROLLING, strategy: 'canary', canaryPercent: 50 };

/**
 * A node placed on demand for a session (src/deployments/on-demand-placements.ts) joins the
 * deployment's placed nodes mid-life: the rollout must hand it the right version and wait for it
 * like any other node, and carry on when it is released again.
 */
function fleet(policy: RolloutPolicy, nodes: string[]) {
  let now = 1_000_000;
  let state: RolloutState = initialRollout(now);
  const reports = new Map<string, NodeReport>();
  return {
    nodes,
    get state() {
      return state;
    },
    step(resolvedVersion: number) {
      now += 1000;
      state = advanceRollout(state, policy, { now, resolvedVersion, placedNodes: nodes, reports });
      return state;
    },
    /** Every placed node serves what it is assigned. */
    sync() {
      for (const node of nodes) {
        const version = assignedVersion(state, node);
        if (version !== null && reports.get(node)?.version !== version)
          reports.set(node, { version, state: 'serving', reason: null, requests: 0, errors: 0, updatedAt: now });
      }
    },
  };
}

describe('rollouts with nodes placed on demand', () => {
  it('a node added to a stable deployment gets the stable version', () => {
    const f = fleet(ROLLING, ['n1']);
    f.step(1);
    f.sync();
    expect(f.step(1)).toMatchObject({ phase: 'stable', stableVersion: 1 });
    f.nodes.push('on-demand');
    expect(f.step(1).phase).toBe('stable');
    expect(assignedVersion(f.state, 'on-demand')).toBe(1);
  });

  it('a node added during a rolling rollout is updated before it completes', () => {
    const f = fleet(ROLLING, ['n1', 'n2']);
    f.step(1);
    f.sync();
    f.step(1);
    expect(f.step(2)).toMatchObject({ phase: 'rolling', updatedNodes: ['n1'] });
    f.nodes.push('on-demand');
    expect(assignedVersion(f.state, 'on-demand')).toBe(1);
    for (let i = 0; i < 10 && f.state.phase === 'rolling'; i++) {
      f.sync();
      f.step(2);
    }
    expect(f.state).toMatchObject({ phase: 'stable', stableVersion: 2 });
    expect(assignedVersion(f.state, 'on-demand')).toBe(2);
  });

  it('a canary placed on demand and released again: the canary is picked again from the nodes left', () => {
    const f = fleet(CANARY, ['on-demand', 'n1']);
    f.step(1);
    f.sync();
    f.step(1);
    expect(f.step(2)).toMatchObject({ phase: 'canary', updatedNodes: ['on-demand'] });
    f.nodes.splice(0, 1);
    expect(f.step(2)).toMatchObject({ phase: 'canary', updatedNodes: ['n1'] });
    f.sync();
    expect(f.step(2).phase).toBe('soaking');
  });
});
