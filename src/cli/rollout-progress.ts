import type { DeploymentView } from '../contracts/deployments.js';
import { servesAssigned } from '../deployments/node-status.js';
import { MIN_SOAK_REQUESTS } from '../deployments/rollout.js';
import { formatDuration } from './progress-bar.js';

/** What `deploy … --wait` draws for one look at a deployment. */
export interface RolloutProgress {
  /** 0–1 for the step in progress, below 1 until the rollout is over; undefined when no node is placed. */
  fraction: number | undefined;
  label: string;
  /** The rollout is over: stable (or rolled back) and every placed node serves its version. */
  done: boolean;
  /** Every placed node failed to load its version: waiting longer will not help. */
  failed: boolean;
}

const percent = (share: number) => `${(share * 100).toFixed(1)}%`;

/**
 * Where a rollout stands, step by step: nodes loading the new version (every strategy), then
 * for a canary the soak — its time, the canary's requests and error rate beside the budget —
 * then the other nodes loading it. `now` is this machine's clock (the soak began at the
 * rollout's `phaseSince`).
 */
export function rolloutProgress(view: DeploymentView, now: number): RolloutProgress {
  const { phase, targetVersion, updatedNodes } = view.rollout;
  const placed = view.nodes.filter((n) => n.assignedVersion !== null);
  const settled = placed.filter(servesAssigned);
  const failedNodes = placed.filter((n) => n.state === 'failed' && n.version === n.assignedVersion);
  const done = (phase === 'stable' || phase === 'rolled-back') && placed.length > 0 && settled.length === placed.length;
  const failed = placed.length > 0 && failedNodes.length === placed.length;
  const version = targetVersion === null ? '' : ` v${targetVersion}`;
  const failures = failedNodes.length > 0 ? `, ${failedNodes.length} failed` : '';

  let fraction: number | undefined;
  let label: string;
  const canary = view.nodes.filter((n) => updatedNodes.includes(n.nodeId));
  if (phase === 'soaking') {
    const soakMs = view.soakSeconds * 1000;
    const elapsed = Math.min(soakMs, Math.max(0, now - Date.parse(view.rollout.phaseSince)));
    // The canary's counters for the new version (the control plane judges those since the soak began).
    const onTarget = canary.filter((n) => n.version === targetVersion);
    const requests = onTarget.reduce((sum, n) => sum + n.requests, 0);
    const errors = onTarget.reduce((sum, n) => sum + n.errors, 0);
    const judged = requests < MIN_SOAK_REQUESTS ? `, judged from ${MIN_SOAK_REQUESTS} requests` : '';
    fraction = soakMs === 0 ? 1 : elapsed / soakMs;
    label =
      `soak${version}: ${formatDuration(elapsed)} of ${formatDuration(soakMs)} on ${canary.length} canary node(s), ` +
      `${requests} request(s), ${percent(requests === 0 ? 0 : errors / requests)} failed (max ${percent(view.maxErrorRate)}${judged})`;
  } else if (phase === 'canary' && canary.length > 0) {
    const ready = canary.filter(servesAssigned);
    fraction = ready.length / canary.length;
    label = `canary${version}: ${ready.length}/${canary.length} canary node(s) serving${failures}, then a ${formatDuration(view.soakSeconds * 1000)} soak`;
  } else {
    fraction = placed.length === 0 ? undefined : settled.length / placed.length;
    label = `${phase}${version}: ${settled.length}/${placed.length} node(s) serving${failures}`;
  }
  // 100% means finished: a step that is complete while the rollout is not stays just below it.
  if (fraction !== undefined && !done) fraction = Math.min(fraction, 0.99);
  return { fraction, label, done, failed };
}
