import type { NodeView } from '../contracts/nodes.js';
import { type LabelMap, matchesSelector } from '../nodes/labels.js';
import { takesNewWork } from '../nodes/node-eligibility.js';

/**
 * A loaded bundle takes several times its file size in memory (weights unpacked, a warm-up
 * batch, the previous version during a swap); 4× keeps small edge boards from being overfilled.
 */
export const MEMORY_PER_BUNDLE_BYTE = 4;

/**
 * The nodes a deployment goes to: its selector's labels (or one of `extraNodeIds`, where it was
 * loaded on demand for an inference session), online, taking new work (approved, not cordoned), and with room for the bundle.
 * Nodes whose memory is not known yet (no heartbeat) are not chosen.
 */
export function placeDeployment(
  nodeSelector: LabelMap,
  bundleBytes: number,
  nodes: readonly NodeView[],
  extraNodeIds: readonly string[] = [],
): NodeView[] {
  return nodes.filter(
    (node) =>
      (matchesSelector(node.labels, nodeSelector) || extraNodeIds.includes(node.id)) &&
      node.status === 'online' &&
      takesNewWork(node) &&
      node.resources !== null &&
      node.resources.memoryFreeBytes >= bundleBytes * MEMORY_PER_BUNDLE_BYTE,
  );
}
