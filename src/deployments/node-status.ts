import type { NodeDeploymentStatus } from '../contracts/deployments.js';

/** A placed node is settled when it serves the version the rollout assigns it. */
export function servesAssigned(node: NodeDeploymentStatus): boolean {
  return node.state === 'serving' && node.assignedVersion !== null && node.version === node.assignedVersion;
}
