import type { DeploymentRepository } from '../deployments/deployment-repository.js';
import type { DesiredStateService } from '../deployments/desired-state.js';
import { isApproved } from '../nodes/node-eligibility.js';
import type { NodeRegistry } from '../nodes/node-registry.js';
import { parseModelSelector } from '../registry/model-selector.js';

/** A cloud node's agent serving one model version through one of its deployments. */
export interface CloudReplica {
  /** `<node id>/<deployment>`: one agent can serve a version under several deployments. */
  id: string;
  nodeName: string;
  /** The agent's inference URL (its Open Inference Protocol routes). */
  url: string;
  /** The deployment name the agent serves the version under: its /v2 paths use it. */
  deployment: string;
  model: string;
  version: number;
}

/**
 * The cloud inference replicas: online nodes with role `cloud` that the control plane placed a
 * deployment on (its desired state for them holds it) and whose agent reports a version of that
 * deployment's rollout as serving, called at the URL fixed at the node's enrolment (or by an
 * operator), never at one a heartbeat names. A node's own word never makes it a replica: a report
 * of "serving" for a deployment it was not given, or of a version the rollout does not hand out,
 * is not enough (issue 14). Edge nodes are never replicas, even when they serve the same version:
 * they are the ones offloading.
 */
export async function findCloudReplicas(deps: {
  deployments: DeploymentRepository;
  desiredState: DesiredStateService;
  nodes: NodeRegistry;
}): Promise<CloudReplica[]> {
  const cloudNodes = (await deps.nodes.list({ role: 'cloud', status: 'online' })).filter(isApproved);
  // Most clusters have no cloud nodes: no need to read every deployment then.
  if (cloudNodes.length === 0) return [];
  const byId = new Map(cloudNodes.map((node) => [node.id, node]));
  const replicas: CloudReplica[] = [];
  for (const view of await deps.desiredState.views(await deps.deployments.list())) {
    const model = parseModelSelector(view.model).model;
    for (const status of view.nodes) {
      const node = byId.get(status.nodeId);
      if (!node?.inferenceUrl || status.state !== 'serving' || status.servingVersion === null) continue;
      // Placed here by the control plane now (assignedVersion is null for a report from a node it is not placed on).
      if (status.assignedVersion === null) continue;
      if (status.servingVersion !== view.rollout.stableVersion && status.servingVersion !== view.rollout.targetVersion) continue;
      replicas.push({
        id: `${node.id}/${view.name}`,
        nodeName: node.name,
        url: node.inferenceUrl,
        deployment: view.name,
        model,
        version: status.servingVersion,
      });
    }
  }
  return replicas;
}
