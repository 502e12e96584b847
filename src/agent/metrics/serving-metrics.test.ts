import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
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
