import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestControlPlane, type TestControlPlane } from '../support/control-plane.js';

describe('rate limits on enrolment and on failed token checks', () => {
  let cp: TestControlPlane;

  beforeAll(async () => {
    cp = await startTestControlPlane({ enrolRateLimit: '3', authFailureLimit: '5' });
  });

  afterAll(async () => {
    await cp?.close();
  });

  it('refuses enrolments past the per-minute limit with 429 and Retry-After, and enrols nothing more', async () => {
    const { token } = await cp.admin.createToken({ name: 'join', role: 'join', maxUses: 10 });
    const statuses = [];
    for (let i = 0; i < 5; i += 1) {
      const answer = await cp.call('POST', '/api/v1/nodes/enroll', { token, body: { name: `edge-${i}`, role: 'edge' } });
      statuses.push(answer.status);
      if (answer.status === 429) {
        expect(answer.body.code).toBe('FOGLINE_ERR_RATE_LIMITED');
        expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0);
      }
    }
    expect(statuses).toEqual([201, 201, 201, 429, 429]);
    expect((await cp.admin.listNodes()).nodes.map((n) => n.name).sort()).toEqual(['edge-0', 'edge-1', 'edge-2']);
  });

  it('locks out an address that keeps presenting wrong tokens, for the rest of the minute, but never a valid token', async () => {
    const viewer = (await cp.admin.createToken({ name: 'viewer', role: 'viewer' })).token;
    const wrong = `${viewer.slice(0, -4)}${viewer.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    // A missing token is not a guess: it does not count.
    for (let i = 0; i < 10; i += 1) expect((await cp.call('GET', '/api/v1/nodes')).status).toBe(401);
    const statuses = [];
    for (let i = 0; i < 7; i += 1) statuses.push((await cp.call('GET', '/api/v1/nodes', { token: wrong })).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
    // Locked out: whatever does not pass the check waits for the minute to end, a missing token too.
    const locked = await cp.call('GET', '/api/v1/nodes', { token: 'fgl.0123456789abcdef.garbage' });
    expect(locked.status).toBe(429);
    expect(locked.body.message).toMatch(/wait a minute/);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await cp.call('GET', '/api/v1/nodes')).status).toBe(429);
    // The right token still works from the noisy address, and so does the admin's.
    expect((await cp.call('GET', '/api/v1/nodes', { token: viewer })).status).toBe(200);
    expect((await cp.call('GET', '/api/v1/tokens', { token: cp.adminToken })).status).toBe(200);
    // Health stays open.
    expect((await cp.call('GET', '/healthz')).status).toBe(200);
  });
});

/**
 * Failed token checks are counted per address and per presented token id, separately. Loopback
 * is a whole /8 on Linux: each client below calls from its own 127.0.0.x source address.
 */
describe('rate limits by credential, not only by address', () => {
  let cp: TestControlPlane;
  const host = () => new URL(cp.url);
  /** One call from `address` as the client's source address. */
  const callFrom = (address: string, method: string, route: string, options: { token?: string; body?: object } = {}) =>
    new Promise<{ status: number; body: any; retryAfter: string | undefined }>((resolve, reject) => {
      const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
      const request = http.request(
        {
          host: host().hostname,
          port: host().port,
          path: route,
          method,
          localAddress: address,
          headers: {
            ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
            ...(payload ? { 'content-type': 'application/json' } : {}),
          },
        },
        (response) => {
          let text = '';
          response.on('data', (chunk: Buffer) => (text += chunk.toString()));
          response.on('end', () =>
            resolve({
              status: response.statusCode ?? 0,
              body: text ? JSON.parse(text) : undefined,
              retryAfter: response.headers['retry-after'],
            }),
          );
        },
      );
      request.on('error', reject);
      request.end(payload);
    });

  beforeAll(async () => {
    cp = await startTestControlPlane({ authFailureLimit: '30' });
  });

  afterAll(async () => {
    await cp?.close();
  });

  it("31 wrong tokens from one address lock out that address's garbage, not its valid admin and join tokens", async () => {
    const join = (await cp.admin.createToken({ name: 'join', role: 'join', maxUses: 1 })).token;
    const noisy = '127.0.0.2';
    const garbage = (i: number) => `fgl.${i.toString(16).padStart(16, '0')}.${'g'.repeat(43)}`;
    const statuses: number[] = [];
    for (let i = 0; i < 32; i += 1) statuses.push((await callFrom(noisy, 'GET', '/api/v1/nodes', { token: garbage(i) })).status);
    expect(statuses.slice(0, 30).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(30)).toEqual([429, 429]);
    // Still locked for what it only sends: garbage, a wrong join token, nothing at all.
    expect((await callFrom(noisy, 'GET', '/api/v1/nodes', { token: garbage(99) })).status).toBe(429);
    expect((await callFrom(noisy, 'POST', '/api/v1/nodes/enroll', { token: garbage(98), body: { name: 'x', role: 'edge' } })).status).toBe(
      429,
    );
    expect((await callFrom(noisy, 'GET', '/api/v1/nodes')).status).toBe(429);
    // A valid admin token and a valid join token from the same address work.
    expect((await callFrom(noisy, 'GET', '/api/v1/tokens', { token: cp.adminToken })).status).toBe(200);
    const enrolled = await callFrom(noisy, 'POST', '/api/v1/nodes/enroll', { token: join, body: { name: 'behind-nat', role: 'edge' } });
    expect(enrolled.status, JSON.stringify(enrolled.body)).toBe(201);
    // The node's new credential works from there too.
    expect(
      (await callFrom(noisy, 'GET', `/api/v1/nodes/${enrolled.body.nodeId}/desired-state`, { token: enrolled.body.credential })).status,
    ).toBe(200);
    // Another address is not affected.
    expect((await callFrom('127.0.0.3', 'GET', '/api/v1/nodes', { token: garbage(97) })).status).toBe(401);
  });

  it('wrong secrets for one token id from many addresses lock that id out of guesses, never its holder', async () => {
    const viewer = (await cp.admin.createToken({ name: 'watched', role: 'viewer' })).token;
    const [, id] = viewer.split('.');
    const wrong = (i: number) => `fgl.${id}.${String(i).padStart(43, 'w')}`;
    const statuses: number[] = [];
    // One guess per address: no address goes over its limit, the id does.
    for (let i = 0; i < 32; i += 1) statuses.push((await callFrom(`127.0.1.${i + 1}`, 'GET', '/api/v1/nodes', { token: wrong(i) })).status);
    expect(statuses.slice(0, 30).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(30)).toEqual([429, 429]);
    const refused = await callFrom('127.0.1.200', 'GET', '/api/v1/nodes', { token: wrong(99) });
    expect(refused.status).toBe(429);
    expect(Number(refused.retryAfter)).toBeGreaterThan(0);
    // The holder of the right secret is not locked out, from any address.
    expect((await callFrom('127.0.1.201', 'GET', '/api/v1/nodes', { token: viewer })).status).toBe(200);
    // Those addresses are not locked either: another token's guess gets its own 401.
    expect((await callFrom('127.0.1.1', 'GET', '/api/v1/nodes', { token: `fgl.${'e'.repeat(16)}.${'g'.repeat(43)}` })).status).toBe(401);
  });
});
