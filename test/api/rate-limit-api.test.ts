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

  it('locks out an address that keeps presenting wrong tokens, for the rest of the minute', async () => {
    const viewer = (await cp.admin.createToken({ name: 'viewer', role: 'viewer' })).token;
    const wrong = `${viewer.slice(0, -4)}${viewer.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    // A missing token is not a guess: it does not count.
    for (let i = 0; i < 10; i += 1) expect((await cp.call('GET', '/api/v1/nodes')).status).toBe(401);
    const statuses = [];
    for (let i = 0; i < 7; i += 1) statuses.push((await cp.call('GET', '/api/v1/nodes', { token: wrong })).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
    // Locked out: even the right token waits for the minute to end.
    const locked = await cp.call('GET', '/api/v1/nodes', { token: viewer });
    expect(locked.status).toBe(429);
    expect(locked.body.message).toMatch(/wait a minute/);
    // Health stays open.
    expect((await cp.call('GET', '/healthz')).status).toBe(200);
  });
});
