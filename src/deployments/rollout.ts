import type { DeploymentStrategy, RolloutPhase } from '../contracts/deployments.js';

/** How many events a deployment keeps in its rollout history (oldest dropped first). */
const HISTORY_LIMIT = 30;
/** How many good versions a deployment remembers for `rollback`. */
const GOOD_VERSIONS_LIMIT = 10;
/** A canary's error rate is judged only once it has answered this many requests during the soak. */
export const MIN_SOAK_REQUESTS = 20;

export interface RolloutEvent {
  at: number;
  version: number | null;
  event: 'started' | 'canary-healthy' | 'promoted' | 'completed' | 'rolled-back' | 'rollback-requested';
  message: string;
}

/** Request counters a node reports for the version it serves (since that version started serving there). */
export interface UsageCounters {
  requests: number;
  errors: number;
}

/**
 * Where a deployment's rollout stands; persisted with the deployment so a restarted control
 * plane carries on from here.
 */
export interface RolloutState {
  phase: RolloutPhase;
  /** The last version that finished rolling out (what nodes outside the rollout serve); null before the first. */
  stableVersion: number | null;
  /** The version being rolled out, or the one that was rolled back. */
  targetVersion: number | null;
  /** Nodes already given `targetVersion` (rolling and canary phases). */
  updatedNodes: string[];
  phaseSince: number;
  /** When the rollout to `targetVersion` began: node reports older than this say nothing about it. */
  startedAt: number;
  /** Versions rolled back: while the selector stays on one of them, no rollout starts again. */
  blockedVersions: number[];
  /** What the selector resolved to at the last step: a move (even to a blocked version) is a new rollout. */
  selectorVersion: number | null;
  /** Canary nodes' counters when the soak began. */
  soakBaseline: Record<string, UsageCounters>;
  /** Versions that completed a rollout, oldest first: where `rollback` returns to. */
  goodVersions: number[];
  history: RolloutEvent[];
  /**
   * When the selector moves to `version`, the rollout goes out as a canary to `nodes` first
   * (those still placed), whatever the strategy, then to every node once they soaked healthy.
   * A drift promotion sets it: the nodes that drifted get the challenger first. Cleared when
   * that rollout completes or rolls back, or another version starts rolling out.
   */
  preferredCanary?: { version: number; nodes: string[] } | null;
}

export interface RolloutPolicy {
  strategy: DeploymentStrategy;
  canaryPercent: number;
  soakMs: number;
  maxErrorRate: number;
}

export interface NodeReport extends UsageCounters {
  version: number | null;
  state: string;
  reason: string | null;
  /** When the control plane received the report. */
  updatedAt: number;
}

export interface RolloutInputs {
  now: number;
  /** What the model selector resolves to now; null when it resolves to nothing. */
  resolvedVersion: number | null;
  /** The nodes the deployment is placed on now, in a stable order. */
  placedNodes: readonly string[];
  reports: ReadonlyMap<string, NodeReport>;
}

export function initialRollout(now: number): RolloutState {
  return {
    phase: 'stable',
    stableVersion: null,
    targetVersion: null,
    updatedNodes: [],
    phaseSince: now,
    startedAt: now,
    blockedVersions: [],
    selectorVersion: null,
    soakBaseline: {},
    goodVersions: [],
    history: [],
  };
}

/** The version `nodeId` should serve under this rollout, or null for none. */
export function assignedVersion(state: RolloutState, nodeId: string): number | null {
  switch (state.phase) {
    case 'updating':
    case 'promoting':
      return state.targetVersion;
    case 'rolling':
    case 'canary':
    case 'soaking':
      return state.updatedNodes.includes(nodeId) ? state.targetVersion : state.stableVersion;
    case 'stable':
    case 'rolled-back':
      return state.stableVersion;
  }
}

/** The number of canary nodes for `placed` nodes: `percent` of them, rounded up, at least one. */
export function canaryCount(placed: number, percent: number): number {
  return placed === 0 ? 0 : Math.min(placed, Math.max(1, Math.ceil((placed * percent) / 100)));
}

/**
 * One step of the rollout state machine: given what the selector resolves to and what the
 * nodes report, where the rollout goes next. Pure, so the control plane can run it on every
 * tick and persist only real changes.
 *
 * - `all`: every placed node gets the new version at once.
 * - `rolling`: one node at a time; the next gets it once the previous ones serve it.
 * - `canary`: `canaryPercent` of the nodes first; once they serve it and a soak of `soakMs`
 *   passes with their error rate at most `maxErrorRate`, every node gets it.
 * A node that fails to load the new version, or a canary over its error budget, rolls the
 * rollout back (rolling and canary): every node returns to the stable version, and the failed
 * version is not tried again until the selector moves (to any version, that one included).
 */
export function advanceRollout(state: RolloutState, policy: RolloutPolicy, inputs: RolloutInputs): RolloutState {
  const { now, resolvedVersion } = inputs;
  if (resolvedVersion === null) return state;

  const moved = resolvedVersion !== (state.selectorVersion ?? null);
  if (moved) state = { ...state, selectorVersion: resolvedVersion };
  if (resolvedVersion !== state.targetVersion && (moved || !state.blockedVersions.includes(resolvedVersion))) {
    return startRollout(state, policy, inputs, resolvedVersion);
  }

  switch (state.phase) {
    case 'stable':
    case 'rolled-back':
      return state;
    case 'updating':
    case 'promoting':
      if ((policy.strategy !== 'all' || state.preferredCanary) && state.phase === 'promoting') {
        const failure = failedNode(state, inputs, inputs.placedNodes);
        if (failure) return rollBack(state, now, failure);
      }
      return allServe(state, inputs, inputs.placedNodes) ? complete(state, now) : state;
    case 'rolling': {
      const updated = inputs.placedNodes.filter((node) => state.updatedNodes.includes(node));
      const failure = failedNode(state, inputs, updated);
      if (failure) return rollBack(state, now, failure);
      if (!allServe(state, inputs, updated)) return state;
      const next = inputs.placedNodes.find((node) => !state.updatedNodes.includes(node));
      if (next === undefined) return complete(state, now);
      return { ...state, updatedNodes: [...state.updatedNodes, next] };
    }
    case 'canary': {
      // A canary node that left (offline, cordoned, relabelled) no longer counts; with none left, pick again.
      const present = state.updatedNodes.filter((node) => inputs.placedNodes.includes(node));
      if (present.length !== state.updatedNodes.length) state = { ...state, updatedNodes: present };
      if (state.updatedNodes.length === 0) {
        // No node to try it on: like `all` and `rolling` with no nodes, there is nothing to wait for.
        if (inputs.placedNodes.length === 0) return complete(state, now);
        return { ...state, updatedNodes: canaryNodes(state, policy, inputs.placedNodes) };
      }
      const failure = failedNode(state, inputs, state.updatedNodes);
      if (failure) return rollBack(state, now, failure);
      if (!allServe(state, inputs, state.updatedNodes)) return state;
      const soakBaseline = Object.fromEntries(state.updatedNodes.map((node) => [node, countersOf(inputs.reports.get(node))]));
      return withEvent(
        { ...state, phase: 'soaking', phaseSince: now, soakBaseline },
        now,
        'canary-healthy',
        `canary on ${state.updatedNodes.length} node(s) serves version ${state.targetVersion}; soaking`,
      );
    }
    case 'soaking': {
      // The soak judges the canary nodes it started with: if one left, the canary starts over.
      if (state.updatedNodes.some((node) => !inputs.placedNodes.includes(node))) {
        return advanceRollout({ ...state, phase: 'canary', soakBaseline: {} }, policy, inputs);
      }
      const failure = failedNode(state, inputs, state.updatedNodes);
      if (failure) return rollBack(state, now, failure);
      const { requests, errors } = soakUsage(state, inputs);
      const errorRate = requests === 0 ? 0 : errors / requests;
      if (requests >= MIN_SOAK_REQUESTS && errorRate > policy.maxErrorRate) {
        return rollBack(
          state,
          now,
          `canary error rate ${(errorRate * 100).toFixed(1)}% (${errors}/${requests}) is over ${(policy.maxErrorRate * 100).toFixed(1)}%`,
        );
      }
      if (now - state.phaseSince < policy.soakMs) return state;
      return withEvent(
        { ...state, phase: 'promoting', phaseSince: now, updatedNodes: [] },
        now,
        'promoted',
        `canary soaked ${Math.round(policy.soakMs / 1000)} s with ${errors} error(s) in ${requests} request(s); every node gets version ${state.targetVersion}`,
      );
    }
  }
}

/**
 * A rollback asked for by a user: an unfinished rollout returns to the stable version; a
 * finished one returns to the good version before it. Throws when there is nothing to return to.
 */
export function requestRollback(state: RolloutState, now: number): RolloutState {
  const inProgress = state.phase !== 'stable' && state.phase !== 'rolled-back';
  if (inProgress && state.stableVersion !== null) {
    return rollBack(state, now, 'rollback requested', 'rollback-requested');
  }
  const current = state.stableVersion;
  const previous = state.goodVersions.filter((v) => v !== current).at(-1);
  if (current === null || previous === undefined) throw new NothingToRollBackTo(current);
  return withEvent(
    {
      ...state,
      phase: 'rolled-back',
      stableVersion: previous,
      updatedNodes: [],
      phaseSince: now,
      soakBaseline: {},
      blockedVersions: unique([...state.blockedVersions, current, ...(state.targetVersion === null ? [] : [state.targetVersion])]),
      goodVersions: state.goodVersions.filter((v) => v !== current),
    },
    now,
    'rollback-requested',
    `rolled back from version ${current} to ${previous}`,
  );
}

export class NothingToRollBackTo extends Error {
  constructor(readonly current: number | null) {
    super(current === null ? 'no version has finished rolling out yet' : `no good version before ${current}`);
  }
}

function startRollout(state: RolloutState, policy: RolloutPolicy, inputs: RolloutInputs, version: number): RolloutState {
  const { now } = inputs;
  const base = {
    ...state,
    targetVersion: version,
    updatedNodes: [],
    phaseSince: now,
    startedAt: now,
    blockedVersions: [],
    soakBaseline: {},
  };
  if (version === state.stableVersion) {
    return withEvent({ ...base, phase: 'stable' }, now, 'completed', `back on version ${version}`);
  }
  // The first version has nothing to fall back to: it goes everywhere at once, whatever the strategy.
  const phase: RolloutPhase =
    state.stableVersion === null || policy.strategy === 'all' ? 'updating' : policy.strategy === 'rolling' ? 'rolling' : 'canary';
  const preferred = state.preferredCanary?.version === version && state.stableVersion !== null ? state.preferredCanary : null;
  if (preferred) {
    // A canary on the preferred nodes first, whatever the strategy (the soak and error budget are the deployment's).
    const on = preferred.nodes.filter((node) => inputs.placedNodes.includes(node));
    const started = withEvent(
      { ...base, phase: 'canary', preferredCanary: preferred },
      now,
      'started',
      `rolling out version ${version} (canary on ${on.length > 0 ? on.join(', ') : 'the first nodes'} first, as asked)`,
    );
    return advanceRollout(started, { ...policy, strategy: 'canary' }, inputs);
  }
  const started = withEvent(
    { ...base, phase, preferredCanary: null },
    now,
    'started',
    `rolling out version ${version} (${phase === 'updating' ? 'all' : phase})`,
  );
  // Rolling and canary pick their first nodes at once, so the change reaches them on this tick.
  if (phase === 'rolling' && inputs.placedNodes.length > 0) return { ...started, updatedNodes: [inputs.placedNodes[0]!] };
  if (phase === 'canary') return advanceRollout(started, policy, inputs);
  return started;
}

/** The canary nodes among `placed`: the preferred ones still placed, else `canaryPercent` of them. */
function canaryNodes(state: RolloutState, policy: RolloutPolicy, placed: readonly string[]): string[] {
  const preferred = state.preferredCanary?.version === state.targetVersion ? state.preferredCanary.nodes : [];
  const present = placed.filter((node) => preferred.includes(node));
  return present.length > 0 ? present : placed.slice(0, canaryCount(placed.length, policy.canaryPercent));
}

function complete(state: RolloutState, now: number): RolloutState {
  const version = state.targetVersion;
  return withEvent(
    {
      ...state,
      preferredCanary: null,
      phase: 'stable',
      stableVersion: version,
      updatedNodes: [],
      phaseSince: now,
      soakBaseline: {},
      goodVersions:
        version === null ? state.goodVersions : [...state.goodVersions.filter((v) => v !== version), version].slice(-GOOD_VERSIONS_LIMIT),
    },
    now,
    'completed',
    `every node serves version ${version}`,
  );
}

function rollBack(state: RolloutState, now: number, reason: string, event: RolloutEvent['event'] = 'rolled-back'): RolloutState {
  return withEvent(
    {
      ...state,
      preferredCanary: null,
      phase: 'rolled-back',
      updatedNodes: [],
      phaseSince: now,
      soakBaseline: {},
      blockedVersions: state.targetVersion === null ? state.blockedVersions : unique([...state.blockedVersions, state.targetVersion]),
    },
    now,
    event,
    `version ${state.targetVersion} rolled back${state.stableVersion === null ? '' : ` to ${state.stableVersion}`}: ${reason}`,
  );
}

function failedNode(state: RolloutState, inputs: RolloutInputs, nodes: readonly string[]): string | undefined {
  for (const node of nodes) {
    const report = inputs.reports.get(node);
    // A failure reported before this rollout began is from an earlier attempt: the node retries.
    if (report && report.version === state.targetVersion && report.state === 'failed' && report.updatedAt >= state.startedAt) {
      return `node ${node} failed to serve it${report.reason ? ` (${report.reason})` : ''}`;
    }
  }
  return undefined;
}

function allServe(state: RolloutState, inputs: RolloutInputs, nodes: readonly string[]): boolean {
  return nodes.every((node) => {
    const report = inputs.reports.get(node);
    return report !== undefined && report.version === state.targetVersion && report.state === 'serving';
  });
}

function soakUsage(state: RolloutState, inputs: RolloutInputs): UsageCounters {
  let requests = 0;
  let errors = 0;
  for (const node of state.updatedNodes) {
    const now = countersOf(inputs.reports.get(node));
    const before = state.soakBaseline[node] ?? { requests: 0, errors: 0 };
    // Counters that went down were reset (the agent restarted): count from zero.
    const reset = now.requests < before.requests || now.errors < before.errors;
    requests += reset ? now.requests : now.requests - before.requests;
    errors += reset ? now.errors : now.errors - before.errors;
  }
  return { requests, errors };
}

function countersOf(report: NodeReport | undefined): UsageCounters {
  return { requests: report?.requests ?? 0, errors: report?.errors ?? 0 };
}

function withEvent(state: RolloutState, at: number, event: RolloutEvent['event'], message: string): RolloutState {
  return { ...state, history: [...state.history, { at, version: state.targetVersion, event, message }].slice(-HISTORY_LIMIT) };
}

function unique(values: number[]): number[] {
  return [...new Set(values)];
}
