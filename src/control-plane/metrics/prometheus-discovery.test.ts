import { describe, expect, it } from 'vitest';
import type { NodeView } from '../../contracts/nodes.js';
import { prometheusTargets } from './prometheus-discovery.js';

describe('prometheusTargets', () => {
  const node = (name: string, inferenceUrl: string | null, labels: Record<string, string> = {}) =>
    ({
      id: `${name}-id`,
      name,
      role: 'edge',
      labels,
      status: 'online',
      cordoned: false,
      agent: inferenceUrl === null ? null : { version: '1', os: 'linux', arch: 'x64', hostname: name, inferenceUrl },
      inferenceUrl,
    }) as unknown as NodeView;

  it("targets each agent's advertised address, with its labels for relabelling; skips nodes without one", () => {
    const groups = prometheusTargets([
      node('edge-1', 'https://gw.example:8443/fogline/', { site: 'plant-a', 'fogline.io/zone': 'n' }),
      node('edge-2', null),
    ]);
    expect(groups).toEqual([
      {
        targets: ['gw.example:8443'],
        labels: {
          node: 'edge-1',
          node_role: 'edge',
          __scheme__: 'https',
          __metrics_path__: '/fogline/metrics',
          __meta_fogline_node_id: 'edge-1-id',
          __meta_fogline_node_status: 'online',
          __meta_fogline_node_cordoned: 'false',
          __meta_fogline_node_label_site: 'plant-a',
          __meta_fogline_node_label_fogline_io_zone: 'n',
        },
      },
    ]);
  });
});
