import { describe, expect, it } from 'vitest';
import type { DeploymentView, RolloutView } from '../contracts/deployments.js';
import { rolloutProgress } from './rollout-progress.js';

type NodeStatus = DeploymentView['nodes'][number];

const SOAK_START = Date.parse('2026-01-01T10:00:00.000Z');

function node(nodeId: string, fields: Partial<NodeStatus>): NodeStatus {
  return {
    nodeId,
    nodeName: nodeId,
    version: 1,
    servingVersion: 1,
    assignedVersion: 1,
    state: 'serving',
    reason: null,
    requests: 0,
    errors: 0,
    latencyP50Ms: null,
    latencyP99Ms: null,
    localRequests: 0,
    offloadedRequests: 0,
    joint: null,
    mqtt: null,
    updatedAt: null,
    ...fields,
  };
}

/** A canary deployment of v1 → v2 on three nodes, `edge-1` the canary, soak 60 s, at most 1% errors. */
function canaryView(rollout: Partial<RolloutView>, nodes: NodeStatus[]): DeploymentView {
  return {
    name: 'energy',
    model: 'energy@champion',
    nodeSelector: {},
    strategy: 'canary',
    canaryPercent: 20,
    soakSeconds: 60,
    maxErrorRate: 0.01,
    offload: 'edge-only',
    latencyTargetMs: 200,
    joint: null,
    mqtt: null,
    version: 2,
    rollout: {
      phase: 'soaking',
      stableVersion: 1,
      targetVersion: 2,
      updatedNodes: ['edge-1'],
      phaseSince: new Date(SOAK_START).toISOString(),
      blockedVersions: [],
      goodVersions: [1],
      preferredCanary: null,
      history: [],
      ...rollout,
    },
    nodes,
    createdAt: new Date(SOAK_START).toISOString(),
    updatedAt: new Date(SOAK_START).toISOString(),
  };
}

const soaking = (canary: Partial<NodeStatus>) =>
  canaryView({}, [
    node('edge-1', { version: 2, servingVersion: 2, assignedVersion: 2, ...canary }),
    node('edge-2', { requests: 500 }),
    node('edge-3', { requests: 500, errors: 40 }),
  ]);

describe('rolloutProgress', () => {
  it("shows a canary's soak: its time, the canary's requests and error rate, below 100% until the rollout is over", () => {
    const view = soaking({ requests: 30, errors: 1 });
    const halfway = rolloutProgress(view, SOAK_START + 30_000);
    expect(halfway.fraction).toBeCloseTo(0.5);
    expect(halfway.done).toBe(false);
    // Only the canary's counters count: the other nodes still serve v1.
    expect(halfway.label).toBe('soak v2: 30s of 1:00 on 1 canary node(s), 30 request(s), 3.3% failed (max 1.0%)');

    // The soak's time is up, but the control plane has not promoted yet: not 100%.
    const over = rolloutProgress(view, SOAK_START + 90_000);
    expect(over.fraction).toBeLessThan(1);
    expect(Math.floor((over.fraction ?? 0) * 100)).toBe(99);
    expect(over.label).toContain('1:00 of 1:00');
  });

  it('says when too few requests came for the error rate to be judged yet', () => {
    const { label } = rolloutProgress(soaking({ requests: 5 }), SOAK_START + 1000);
    expect(label).toBe('soak v2: 1s of 1:00 on 1 canary node(s), 5 request(s), 0.0% failed (max 1.0%, judged from 20 requests)');
  });

  it('counts the canary nodes loading the new version before the soak', () => {
    const view = canaryView({ phase: 'canary' }, [
      node('edge-1', { version: 2, servingVersion: 1, assignedVersion: 2, state: 'loading' }),
      node('edge-2', {}),
      node('edge-3', {}),
    ]);
    const progress = rolloutProgress(view, SOAK_START);
    expect(progress.fraction).toBe(0);
    expect(progress.label).toBe('canary v2: 0/1 canary node(s) serving, then a 1:00 soak');
  });

  it('is 100% only once every node serves the finished rollout', () => {
    const promoting = canaryView({ phase: 'promoting', updatedNodes: [] }, [
      node('edge-1', { version: 2, servingVersion: 2, assignedVersion: 2 }),
      node('edge-2', { version: 2, servingVersion: 2, assignedVersion: 2 }),
      node('edge-3', { version: 2, servingVersion: 2, assignedVersion: 2 }),
    ]);
    // Every node serves v2, but the rollout has not completed yet.
    expect(rolloutProgress(promoting, SOAK_START).fraction).toBe(0.99);
    expect(rolloutProgress(promoting, SOAK_START).done).toBe(false);
    const stable = { ...promoting, rollout: { ...promoting.rollout, phase: 'stable' as const, stableVersion: 2 } };
    expect(rolloutProgress(stable, SOAK_START)).toMatchObject({ fraction: 1, done: true, label: 'stable v2: 3/3 node(s) serving' });
  });

  it('stops when every placed node failed to load its version', () => {
    const view = canaryView({ phase: 'updating', stableVersion: null, updatedNodes: [] }, [
      node('edge-1', { version: 2, servingVersion: null, assignedVersion: 2, state: 'failed' }),
    ]);
    expect(rolloutProgress(view, SOAK_START)).toMatchObject({
      done: false,
      failed: true,
      label: 'updating v2: 0/1 node(s) serving, 1 failed',
    });
  });
});
