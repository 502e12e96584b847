import type { DeploymentView } from '../../src/contracts/deployments.js';

export type DeploymentHealth = 'healthy' | 'rolling' | 'failed' | 'unplaced';

/** Nodes that serve the version the deployment points at now. */
export function servingTarget(view: DeploymentView): number {
  return view.nodes.filter((n) => n.state === 'serving' && n.version === view.version && (n.servingVersion ?? n.version) === view.version)
    .length;
}

export function deploymentHealth(view: DeploymentView): DeploymentHealth {
  if (view.nodes.length === 0) return 'unplaced';
  if (view.nodes.some((n) => n.state === 'failed')) return 'failed';
  return servingTarget(view) === view.nodes.length ? 'healthy' : 'rolling';
}
