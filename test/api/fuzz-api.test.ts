/**
 * Fuzzing every route of the API with fast-check: arbitrary JSON bodies, path parameters
 * (traversal attempts, control characters, huge strings) and query strings, sent with an admin
 * token so that they reach validation and the handlers. A client's mistake must never be a 500,
 * and the server must keep answering.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestControlPlane, type TestControlPlane } from '../support/control-plane.js';

/** Routes that hold the connection open (server-sent events): the traversal test does not read them. */
const STREAMS = new Set(['/api/v1/events']);

const pathParameter = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('..', '../..', '..%2F..%2Fetc%2Fpasswd', '%00', 'a%2Fb', '.', '~root', 'CON', '%ff%fe', 'x'.repeat(5000)),
  fc.stringMatching(/^[a-z0-9-]{1,20}$/),
  fc.integer({ min: -5, max: 2 ** 40 }).map(String),
);

const queryString = fc.dictionary(fc.stringMatching(/^[a-zA-Z]{1,12}$/), fc.oneof(fc.string({ maxLength: 20 }), fc.integer().map(String)), {
  maxKeys: 4,
});

describe('API fuzzing (fast-check)', { timeout: 240_000 }, () => {
  let cp: TestControlPlane;
  let routes: { method: string; template: string }[];

  beforeAll(async () => {
    cp = await startTestControlPlane({ bodyLimit: '65536' });
    const { body } = await cp.call('GET', '/api/v1/openapi.json');
    routes = Object.entries(body.paths as Record<string, object>).flatMap(([template, operations]) =>
      Object.keys(operations).map((method) => ({ method: method.toUpperCase(), template })),
    );
  });

  afterAll(async () => {
    await cp?.close();
  });

  async function send(method: string, path: string, body: string | undefined): Promise<number> {
    const response = await fetch(`${cp.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${cp.adminToken}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body,
      signal: AbortSignal.timeout(15_000),
    });
    // Cancelling the body also closes a server-sent event stream once its headers have come.
    await response.body?.cancel();
    return response.status;
  }

  it('answers arbitrary bodies, path parameters and query strings on every route without a 500', async () => {
    const failures: string[] = [];
    const request = fc.record({
      route: fc.constantFrom(...routes),
      params: fc.array(pathParameter, { minLength: 4, maxLength: 4 }),
      query: queryString,
      body: fc.oneof(
        fc.json({ maxDepth: 3 }),
        fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
        fc.constantFrom('{', '{"a":', '[]', 'null', '"x"', '{"name":"\u0000"}', '{"__proto__":{"admin":true}}'),
      ),
    });
    await fc.assert(
      fc.asyncProperty(request, async ({ route, params, query, body }) => {
        let i = 0;
        const path = route.template.replace(/\{[^}]+\}/g, () => encodeURIComponent(params[i++ % params.length]!));
        const search = new URLSearchParams(query).toString();
        const url = `${path}${search ? `?${search}` : ''}`;
        // A stream (also one that ".." segments land on) is checked by its status alone: send() drops the body.
        const withBody = route.method !== 'GET' && route.method !== 'DELETE';
        const status = await send(route.method, url, withBody ? body : undefined);
        if (status >= 500 && status !== 503) failures.push(`${route.method} ${url} ${withBody ? body.slice(0, 200) : ''} → ${status}`);
      }),
      { numRuns: 600 },
    );
    expect(failures).toEqual([]);
    // Still healthy and still answering after all of it.
    expect((await cp.call('GET', '/readyz')).status).toBe(200);
  });

  it('refuses path traversal in every name-like parameter', async () => {
    const traversal = ['..', '../secrets', '..%2F..%2Fadmin.token', '%2e%2e%2f%2e%2e%2fadmin.token'];
    for (const { method, template } of routes.filter((r) => r.method === 'GET' && r.template.includes('{'))) {
      for (const attempt of traversal) {
        const path = template.replace(/\{[^}]+\}/g, attempt);
        if (STREAMS.has(new URL(path, cp.url).pathname)) continue;
        const response = await fetch(`${cp.url}${path}`, { headers: { authorization: `Bearer ${cp.adminToken}` } });
        const text = await response.text();
        expect(response.status, `${method} ${path}`).toBeGreaterThanOrEqual(400);
        expect(response.status, `${method} ${path}`).toBeLessThan(500);
        expect(text).not.toContain(cp.adminToken);
      }
    }
  });
});
