import type { NodeView } from '../contracts/nodes.js';
import { type LabelMap, matchesSelector } from '../nodes/labels.js';
import { takesNewWork } from '../nodes/node-eligibility.js';

/**
 * A loaded bundle takes several times its file size in memory (weights unpacked, a warm-up
 * batch, the previous version during a swap); 4× keeps small edge boards from being overfilled.
 */
export const MEMORY_PER_BUNDLE_BYTE = 4;

/** What a deployment's versions need from a node. */
export interface ModelNeeds {
  /** The largest bundle involved (stable, target, the selector's), so a node has room for a swap. */
  bundleBytes: number;
  /** True when some version has only an ONNX graph (imported models): the node must have ONNX Runtime. */
  needsOnnx: boolean;
}

/** A node the selector chose that cannot take the model, and why (shown in `deploy get`). */
export interface RefusedNode {
  node: NodeView;
  reason: string;
}

/**
 * The nodes a deployment goes to: its selector's labels (or one of `extraNodeIds`, where it was
 * loaded on demand for an inference session), online, taking new work (approved, not cordoned),
 * with room for the bundle and a runtime for it. Nodes the selector chose that fail only the last
 * two come back as `refused`, with a reason a user can act on; nodes whose memory is not known
 * yet (no heartbeat) or that are offline are simply not chosen now.
 */
export function planPlacement(
  nodeSelector: LabelMap,
  needs: ModelNeeds,
  nodes: readonly NodeView[],
  extraNodeIds: readonly string[] = [],
): { placed: NodeView[]; refused: RefusedNode[] } {
  const placed: NodeView[] = [];
  const refused: RefusedNode[] = [];
  for (const node of nodes) {
    const chosen = matchesSelector(node.labels, nodeSelector) || extraNodeIds.includes(node.id);
    if (!chosen || node.status !== 'online' || !takesNewWork(node) || node.resources === null) continue;
    const reason = misfit(node, needs);
    if (reason) refused.push({ node, reason });
    else placed.push(node);
  }
  return { placed, refused };
}

function misfit(node: NodeView, needs: ModelNeeds): string | null {
  const runtimes = node.agent?.runtimes ?? ['tfjs'];
  if (needs.needsOnnx && !runtimes.includes('onnx')) {
    const where = node.agent ? ` (${node.agent.os}, ${node.agent.arch})` : '';
    return `the model needs ONNX Runtime, which does not load on this node${where}; it runs ${runtimes.join(', ')} only`;
  }
  const memoryNeeded = needs.bundleBytes * MEMORY_PER_BUNDLE_BYTE;
  const free = node.resources?.memoryFreeBytes ?? 0;
  if (free < memoryNeeded) {
    return `the model needs about ${mebibytes(memoryNeeded)} of free memory (${MEMORY_PER_BUNDLE_BYTE}× its ${mebibytes(needs.bundleBytes)} bundle); the node has ${mebibytes(free)} free`;
  }
  return null;
}

const mebibytes = (bytes: number) => `${(bytes / 1_048_576).toFixed(bytes < 10 * 1_048_576 ? 1 : 0)} MiB`;
