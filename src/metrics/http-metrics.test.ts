import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { HttpMetrics } from './http-metrics.js';

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
