import type { NodeView } from '../../contracts/nodes.js';

/** One entry of what Prometheus' http_sd_configs expects. */
export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

/**
 * Prometheus HTTP service discovery from the node registry: one target per node with an inference
 * URL (where the control plane calls its agent, fixed at enrolment; /metrics is served beside /v2). Labels:
 * - `node` (its name) and `node_role`: attached to every series scraped from that agent;
 * - `__meta_fogline_node_id`, `__meta_fogline_node_status`, `__meta_fogline_node_cordoned`,
 *   `__meta_fogline_node_label_<key>`
 *   (the node's labels, the key made a valid Prometheus label name): for relabelling only, e.g.
 *   `labelmap` them, or drop offline nodes.
 * Nodes without one yet (enrolled by an older agent, before its first heartbeat) are left out.
 */
export function prometheusTargets(nodes: NodeView[]): TargetGroup[] {
  const groups: TargetGroup[] = [];
  for (const node of nodes) {
    if (!node.inferenceUrl) continue;
    let url: URL;
    try {
      url = new URL(node.inferenceUrl);
    } catch {
      continue;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') continue;
    const basePath = url.pathname.replace(/\/+$/, '');
    const labels: Record<string, string> = {
      node: node.name,
      node_role: node.role,
      __meta_fogline_node_id: node.id,
      __scheme__: url.protocol.slice(0, -1),
      __metrics_path__: `${basePath}/metrics`,
      __meta_fogline_node_status: node.status,
      __meta_fogline_node_cordoned: String(node.cordoned),
    };
    for (const [key, value] of Object.entries(node.labels)) labels[`__meta_fogline_node_label_${labelName(key)}`] = value;
    groups.push({ targets: [url.host], labels });
  }
  return groups;
}

/** A node label key (`fogline.io/zone`) as a Prometheus label name (`fogline_io_zone`). */
export function labelName(key: string): string {
  return key.replace(/[^a-zA-Z0-9_]/g, '_');
}
