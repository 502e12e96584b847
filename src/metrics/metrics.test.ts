import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { NodeView } from '../contracts/nodes.js';
import { HttpMetrics } from './http-metrics.js';
import { prometheusTargets } from './prometheus-discovery.js';

describe('HttpMetrics', () => {
  it('labels by route pattern and status class; unknown paths share one label', async () => {
    const registry = new Registry();
    const app = Fastify();
    new HttpMetrics(registry).install(app);
    app.get('/items/:id', async () => ({ ok: true }));
    await app.inject({ url: '/items/1' });
    await app.inject({ url: '/items/2' });
    await app.inject({ url: '/no/such/path/123' });
    const text = await registry.metrics();
    expect(text).toContain('fogline_http_requests_total{method="GET",route="/items/:id",status_class="2xx"} 2');
    expect(text).toContain('fogline_http_requests_total{method="GET",route="unmatched",status_class="4xx"} 1');
    expect(text).not.toContain('/no/such');
    await app.close();
  });
});

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
