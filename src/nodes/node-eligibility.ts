import type { NodeView } from '../contracts/nodes.js';

/**
 * Approved: not waiting for an operator (a node enrolled with a `--require-approval` join token
 * is pending until `fogline nodes approve`). Only approved nodes get any work, nor are they cloud replicas.
 */
export function isApproved(node: Pick<NodeView, 'pending'>): boolean {
  return node.pending !== true;
}

/**
 * Whether the control plane may give a node work it does not have yet: a deployment, a session's
 * on-demand load, a federated round. Approved and not cordoned; each caller adds its own liveness
 * test (online by heartbeat, or seen polling lately).
 */
export function takesNewWork(node: Pick<NodeView, 'pending' | 'cordoned'>): boolean {
  return isApproved(node) && !node.cordoned;
}
