/**
 * The control plane's side of the dashboard, without a browser: the static files under /ui/,
 * the live event stream (GET /api/v1/events), the resource history and the series route.
 */
import Fastify from 'fastify';
import fs from 'node:fs';
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/client/api-client.js';
import type { HeartbeatRequest } from '../../src/contracts/nodes.js';
import { ChangeSignal } from '../../src/deployments/change-signal.js';
import type { RunEngine } from '../../src/pipelines/run-engine.js';
import { LiveEvents, MAX_BUFFERED_BYTES } from '../../src/control-plane/routes/event-routes.js';
import { defaultDashboardDir, uiRoutes } from '../../src/control-plane/routes/ui-routes.js';
import { startTestControlPlane, type TestControlPlane } from '../support/control-plane.js';
import { tempDir } from '../support/processes.js';

const HEARTBEAT: HeartbeatRequest = {
  resources: {
    cpuCount: 4,
    loadAverage: [1.5, 1, 0.5],
    memoryTotalBytes: 8 * 2 ** 30,
    memoryFreeBytes: 6 * 2 ** 30,
    diskTotalBytes: 100 * 2 ** 30,
    diskFreeBytes: 50 * 2 ** 30,
    gpus: [],
  },
  agent: { version: '0.1.0', os: 'linux', arch: 'x64', hostname: 'h', inferenceUrl: 'http://127.0.0.1:7071' },
};

/** Reads an SSE stream until `count` events matched `wanted` (or the timeout). */
async function readEvents(
  url: string,
  token: string | undefined,
  wanted: (event: string, data: any) => boolean,
  options: { count?: number; timeoutMs?: number; onOpen?: () => Promise<void> } = {},
): Promise<{ status: number; events: { event: string; data: any }[] }> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), options.timeoutMs ?? 10_000);
  const response = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: abort.signal });
  const events: { event: string; data: any }[] = [];
  if (!response.ok || !response.body) {
    clearTimeout(timer);
    return { status: response.status, events };
  }
  const opened = options.onOpen?.();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const chunk of response.body) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data && wanted(event, JSON.parse(data))) events.push({ event, data: JSON.parse(data) });
        if (events.length >= (options.count ?? 1)) return { status: response.status, events };
      }
    }
  } catch (error) {
    if (!abort.signal.aborted) throw error;
  } finally {
    clearTimeout(timer);
    abort.abort();
    await opened;
  }
  return { status: response.status, events };
}

describe('dashboard files under /ui/', () => {
  let cp: TestControlPlane;
  beforeAll(async () => {
    cp = await startTestControlPlane();
  });
  afterAll(async () => {
    await cp?.close();
  });

  it('redirects / to /ui/ and serves index.html for revalidation, with a CSP', async () => {
    const root = await fetch(`${cp.url}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/ui/');
    const index = await fetch(`${cp.url}/ui/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(index.headers.get('cache-control')).toBe('no-cache');
    expect(index.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect(await index.text()).toMatch(/<div id="root">/);
    const again = await fetch(`${cp.url}/ui/`, { headers: { 'if-none-match': index.headers.get('etag')! } });
    expect(again.status).toBe(304);
    // Routes of the single-page app answer with index.html too.
    expect((await fetch(`${cp.url}/ui/nodes`)).headers.get('content-type')).toBe('text/html; charset=utf-8');
  });

  it('serves hashed assets with their content type, gzip and a year of caching', async () => {
    const html = await (await fetch(`${cp.url}/ui/`)).text();
    const script = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    const style = /href="(\/ui\/assets\/[^"]+\.css)"/.exec(html)?.[1];
    expect(script && style).toBeTruthy();
    const js = await fetch(`${cp.url}${script}`, { headers: { 'accept-encoding': 'gzip' } });
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(js.headers.get('content-encoding')).toBe('gzip');
    expect((await fetch(`${cp.url}${style}`)).headers.get('content-type')).toBe('text/css; charset=utf-8');
  });

  it('refuses paths outside the build and files that are not there', async () => {
    expect((await fetch(`${cp.url}/ui/%2e%2e/%2e%2e/package.json`)).status).toBe(404);
    expect((await fetch(`${cp.url}/ui/..%2f..%2fpackage.json`)).status).toBe(404);
    expect((await fetch(`${cp.url}/ui/%252e%252e/%252e%252e/package.json`)).status).toBe(404);
    expect([400, 404]).toContain((await fetch(`${cp.url}/ui/%E0%A4%A`)).status);
    expect((await fetch(`${cp.url}/ui/assets/nothing.js`)).status).toBe(404);
  });

  it('says clearly that the dashboard is not built when dist/dashboard is missing', async () => {
    const app = Fastify();
    await app.register(uiRoutes({ dashboardDir: tempDir('no-dashboard') }));
    const answer = await app.inject({ method: 'GET', url: '/ui/' });
    expect(answer.statusCode).toBe(503);
    expect(answer.body).toMatch(/dashboard is not built.*npm run build/s);
    await app.close();
    expect(fs.existsSync(defaultDashboardDir())).toBe(true);
  });
});

describe('live events and resource history', () => {
  let cp: TestControlPlane;
  let viewer: string;
  let node: { nodeId: string; credential: string };

  beforeAll(async () => {
    cp = await startTestControlPlane();
    viewer = (await cp.admin.createToken({ name: 'dash', role: 'viewer' })).token;
    const join = (await cp.admin.createToken({ name: 'join', role: 'join', maxUses: 5 })).token;
    node = await new ApiClient({ server: cp.url }).enroll(join, { name: 'edge-1', role: 'edge', labels: { site: 'plant-a' } });
  });
  afterAll(async () => {
    await cp?.close();
  });

  it('needs a token like every API route', async () => {
    expect((await readEvents(`${cp.url}/api/v1/events`, undefined, () => true)).status).toBe(401);
    expect((await readEvents(`${cp.url}/api/v1/events`, 'fgl.nope.nope', () => true)).status).toBe(401);
  });

  it('starts with hello and sends a change when something changes through the API', async () => {
    const { events } = await readEvents(`${cp.url}/api/v1/events`, viewer, (event) => event === 'hello' || event === 'change', {
      count: 2,
      onOpen: async () => {
        await new Promise((resolve) => setTimeout(resolve, 100));
        await cp.admin.patchLabels('edge-1', { set: { zone: 'north' } });
      },
    });
    expect(events.map((e) => e.event)).toEqual(['hello', 'change']);
  });

  it('batches heartbeats into the stream and keeps them in the resource history', async () => {
    const { events } = await readEvents(`${cp.url}/api/v1/events`, viewer, (event) => event === 'heartbeats', {
      onOpen: async () => {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const answer = await cp.call('POST', `/api/v1/nodes/${node.nodeId}/heartbeat`, { token: node.credential, body: HEARTBEAT });
        expect(answer.status).toBe(200);
      },
    });
    expect(events[0]?.data.samples).toEqual([
      expect.objectContaining({
        nodeId: node.nodeId,
        load1: 1.5,
        cpuCount: 4,
        memoryUsedBytes: 2 * 2 ** 30,
        memoryTotalBytes: 8 * 2 ** 30,
      }),
    ]);
    const history = await cp.call('GET', '/api/v1/nodes/edge-1/resource-history', { token: viewer });
    expect(history.status).toBe(200);
    expect(history.body).toMatchObject({ nodeId: node.nodeId, windowSeconds: 3600, minSpacingSeconds: 10 });
    expect(history.body.samples).toHaveLength(1);
    expect((await cp.call('GET', '/api/v1/nodes/nosuch/resource-history', { token: viewer })).status).toBe(404);
  });

  it('serves the tail of a time-series dataset for the predictions view', async () => {
    await cp.uploadPjme();
    const series = await cp.call('GET', '/api/v1/datasets/pjme/series?last=48', { token: viewer });
    expect(series.status).toBe(200);
    expect(series.body).toMatchObject({ name: 'pjme', version: 1, intervalSeconds: 3600, timeEnd: '2018-08-03T00:00:00.000Z' });
    expect(series.body.values).toHaveLength(48);
    expect(series.body.start).toBe(Date.parse(series.body.timeEnd) / 1000 - 47 * 3600);
    expect((await cp.call('GET', '/api/v1/datasets/pjme/series?last=100000', { token: viewer })).status).toBe(400);
  });

  it('ends open streams when the server shuts down', async () => {
    const other = await startTestControlPlane();
    const token = other.adminToken;
    const reading = readEvents(`${other.url}/api/v1/events`, token, () => false, { timeoutMs: 20_000 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = Date.now();
    await other.close();
    await reading;
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('LiveEvents buffering', () => {
  it('cuts off a client that does not read rather than buffering without end', () => {
    const live = new LiveEvents({
      changes: new ChangeSignal(),
      runs: { list: async () => [], get: async () => null } as unknown as RunEngine,
    });
    let destroyed = false;
    let written = 0;
    const res = {
      destroyed: false,
      writableEnded: false,
      get writableLength() {
        return written;
      },
      writeHead: () => undefined,
      on: () => undefined,
      write: (chunk: string) => {
        written += chunk.length;
        return false;
      },
      destroy: () => {
        destroyed = true;
      },
      end: () => undefined,
    } as unknown as ServerResponse;
    expect(live.subscribe(res)).toBe(true);
    const big = {
      samples: Array.from({ length: 200 }, (_, i) => ({
        nodeId: `n${i}`,
        t: 0,
        load1: 0,
        cpuCount: 1,
        memoryUsedBytes: 0,
        memoryTotalBytes: 0,
      })),
    };
    for (let i = 0; i < 100 && !destroyed; i++) live.broadcast('heartbeats', big);
    expect(destroyed).toBe(true);
    expect(written).toBeLessThanOrEqual(MAX_BUFFERED_BYTES);
    expect(live.clientCount).toBe(0);
    live.close();
  });
});
