import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { NodeView } from '../contracts/nodes.js';
import { HttpMetrics } from './http-metrics.js';
import { prometheusTargets } from './prometheus-discovery.js';
import { ServingMetrics } from './serving-metrics.js';

const infer = { deployment: 'energy', model: 'pjme', queueSeconds: 0.0001, computeSeconds: 0.002, batchSize: 3 };

describe('ServingMetrics', () => {
  it('counts per deployment, model and version, and drops a retired version after the grace period', async () => {
    const registry = new Registry();
    const serving = new ServingMetrics(registry, { retireAfterMs: 20 });
    serving.loaded({ deployment: 'energy', model: 'pjme', version: 1, seconds: 0.5, ok: true });
    serving.inferred({ ...infer, version: 1, ok: true });
    serving.inferred({ ...infer, version: 1, ok: false });
    serving.loaded({ deployment: 'energy', model: 'pjme', version: 2, seconds: 0.4, ok: true });
    serving.swapped({ deployment: 'energy', model: 'pjme', fromVersion: 1, toVersion: 2, seconds: 0.01 });
    serving.unloaded({ deployment: 'energy', model: 'pjme', version: 1 });
    serving.inferred({ ...infer, version: 2, ok: true });
    let text = await registry.metrics();
    expect(text).toContain('fogline_inference_requests_total{deployment="energy",model="pjme",version="1",outcome="success"} 1');
    expect(text).toContain('fogline_inference_requests_total{deployment="energy",model="pjme",version="1",outcome="failure"} 1');
    expect(text).toContain('fogline_inference_batch_size_sum{deployment="energy",model="pjme",version="2"} 3');
    expect(text).toContain('fogline_model_serving_version{deployment="energy",model="pjme"} 2');
    expect(text).toContain('fogline_model_swaps_total{deployment="energy",model="pjme"} 1');
    await new Promise((resolve) => setTimeout(resolve, 60));
    text = await registry.metrics();
    expect(text).not.toContain('version="1"');
    expect(text).toContain('version="2"');
    serving.unloaded({ deployment: 'energy', model: 'pjme', version: 2 });
    expect(await registry.metrics()).not.toContain('fogline_model_serving_version{');
    serving.close();
  });
});

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
