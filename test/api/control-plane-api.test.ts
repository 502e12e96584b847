import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/client/api-client.js';
import { buildControlPlaneApp } from '../../src/control-plane/app.js';
import { createServices } from '../../src/control-plane/services.js';
import { openStore } from '../../src/store/store.js';
import { startTestControlPlane, type TestControlPlane } from '../support/control-plane.js';
import { tempDir } from '../support/processes.js';

const HEARTBEAT = {
  resources: {
    cpuCount: 2,
    loadAverage: [0.1, 0.2, 0.3],
    memoryTotalBytes: 1000,
    memoryFreeBytes: 500,
    diskTotalBytes: 2000,
    diskFreeBytes: 1000,
    gpus: [],
  },
  agent: { version: '0.1.0', os: 'linux', arch: 'x64', hostname: 'h', inferenceUrl: 'http://127.0.0.1:7071' },
};

describe('control plane API over HTTP', () => {
  let cp: TestControlPlane;
  let viewer: string;
  let operator: string;
  let join: string;
  let edge1: { nodeId: string; credential: string };
  let edge2: { nodeId: string; credential: string };

  beforeAll(async () => {
    cp = await startTestControlPlane({ bodyLimit: '65536' });
    viewer = (await cp.admin.createToken({ name: 'dash', role: 'viewer' })).token;
    operator = (await cp.admin.createToken({ name: 'ops', role: 'operator' })).token;
    join = (await cp.admin.createToken({ name: 'join', role: 'join', maxUses: 100 })).token;
    const client = new ApiClient({ server: cp.url });
    edge1 = await client.enroll(join, { name: 'edge-1', role: 'edge', labels: { site: 'plant-a' } });
    edge2 = await client.enroll(join, { name: 'edge-2', role: 'edge', labels: { site: 'plant-b' } });
  });

  afterAll(async () => {
    await cp?.close();
  });

  it('answers health and readiness without a token', async () => {
    expect(await cp.call('GET', '/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await cp.call('GET', '/readyz')).toMatchObject({ status: 200, body: { status: 'ready' } });
  });

  it('serves an OpenAPI document built from the validation schemas', async () => {
    const { status, body } = await cp.call('GET', '/api/v1/openapi.json');
    expect(status).toBe(200);
    expect(body.openapi).toBe('3.0.3');
    const enroll = body.paths['/api/v1/nodes/enroll'].post;
    const schema = enroll.requestBody.content['application/json'].schema;
    expect(schema.required).toEqual(expect.arrayContaining(['name', 'role']));
    expect(schema.properties.name.pattern).toBe('^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$');
    expect(schema.additionalProperties).toBe(false);
    for (const path of ['/api/v1/tokens', '/api/v1/nodes', '/api/v1/nodes/{id}', '/api/v1/nodes/{id}/heartbeat', '/api/v1/audit']) {
      expect(body.paths).toHaveProperty([path]);
    }
  });

  describe('who may do what', () => {
    // [method, path, body, minimum role]; node credentials are tested separately.
    const routes: [string, string, object | undefined, 'viewer' | 'operator' | 'admin'][] = [
      ['GET', '/api/v1/nodes', undefined, 'viewer'],
      ['GET', '/api/v1/nodes/edge-1', undefined, 'viewer'],
      ['PATCH', '/api/v1/nodes/edge-1/labels', { set: { tier: 'gold' } }, 'operator'],
      ['POST', '/api/v1/nodes/edge-1/cordon', undefined, 'operator'],
      ['POST', '/api/v1/nodes/edge-1/uncordon', undefined, 'operator'],
      ['GET', '/api/v1/tokens', undefined, 'admin'],
      ['POST', '/api/v1/tokens', { name: 'x', role: 'viewer' }, 'admin'],
      ['GET', '/api/v1/audit', undefined, 'admin'],
    ];
    const rank = { viewer: 0, operator: 1, admin: 2 };

    it.each(routes)('%s %s', async (method, path, body, minimum) => {
      const tokens = { viewer, operator, admin: cp.adminToken };
      for (const [role, token] of Object.entries(tokens) as [keyof typeof rank, string][]) {
        const { status, body: answer } = await cp.call(method, path, { token, body });
        if (rank[role] >= rank[minimum]) expect(status, `${role} on ${method} ${path}`).toBeLessThan(300);
        else
          expect({ status, code: answer.code }, `${role} on ${method} ${path}`).toEqual({
            status: 403,
            code: 'FOGLINE_ERR_AUTH_FORBIDDEN',
          });
      }
      expect((await cp.call(method, path, { body })).body.code).toBe('FOGLINE_ERR_AUTH_MISSING');
      expect((await cp.call(method, path, { body, token: join })).status).toBe(403);
      expect((await cp.call(method, path, { body, token: edge1.credential })).status).toBe(403);
    });

    it('lets a node credential act only as its own node', async () => {
      expect((await cp.call('POST', `/api/v1/nodes/${edge1.nodeId}/heartbeat`, { token: edge1.credential, body: HEARTBEAT })).status).toBe(
        200,
      );
      expect((await cp.call('GET', `/api/v1/nodes/${edge1.nodeId}`, { token: edge1.credential })).status).toBe(200);
      const other = await cp.call('POST', `/api/v1/nodes/${edge2.nodeId}/heartbeat`, { token: edge1.credential, body: HEARTBEAT });
      expect(other).toMatchObject({ status: 403, body: { code: 'FOGLINE_ERR_AUTH_FORBIDDEN' } });
      expect((await cp.call('GET', `/api/v1/nodes/${edge2.nodeId}`, { token: edge1.credential })).status).toBe(403);
      expect((await cp.call('POST', `/api/v1/nodes/${edge1.nodeId}/heartbeat`, { token: cp.adminToken, body: HEARTBEAT })).status).toBe(
        403,
      );
      const node2 = await cp.admin.getNode('edge-2');
      expect(node2.lastHeartbeatAt).toBeNull();
    });

    it('checks the token before it looks at the body', async () => {
      const bad = { nonsense: true };
      expect((await cp.call('POST', '/api/v1/tokens', { body: bad })).body.code).toBe('FOGLINE_ERR_AUTH_MISSING');
      expect((await cp.call('POST', '/api/v1/tokens', { body: bad, token: viewer })).body.code).toBe('FOGLINE_ERR_AUTH_FORBIDDEN');
      const other = await cp.call('POST', `/api/v1/nodes/${edge2.nodeId}/heartbeat`, { token: edge1.credential, body: bad });
      expect(other).toMatchObject({ status: 403, body: { code: 'FOGLINE_ERR_AUTH_FORBIDDEN' } });
      expect((await cp.call('POST', '/api/v1/tokens', { body: bad, token: cp.adminToken })).body.code).toBe('FOGLINE_ERR_REQUEST_INVALID');
    });

    it('refuses wrong, revoked and expired tokens with distinct codes', async () => {
      expect((await cp.call('GET', '/api/v1/nodes', { token: 'nonsense' })).body.code).toBe('FOGLINE_ERR_AUTH_INVALID');
      expect((await cp.call('GET', '/api/v1/nodes', { headers: { authorization: 'Basic abc' } })).body.code).toBe(
        'FOGLINE_ERR_AUTH_MISSING',
      );
      const wrongSecret = `${viewer.slice(0, -3)}${viewer.endsWith('AAA') ? 'BBB' : 'AAA'}`;
      expect((await cp.call('GET', '/api/v1/nodes', { token: wrongSecret })).status).toBe(401);
      const doomed = await cp.admin.createToken({ name: 'doomed', role: 'viewer' });
      await cp.admin.revokeToken(doomed.info.id);
      expect((await cp.call('GET', '/api/v1/nodes', { token: doomed.token })).body.code).toBe('FOGLINE_ERR_AUTH_REVOKED');
      const brief = await cp.admin.createToken({ name: 'brief', role: 'viewer', expiresInSeconds: 1 });
      expect((await cp.call('GET', '/api/v1/nodes', { token: brief.token })).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      expect((await cp.call('GET', '/api/v1/nodes', { token: brief.token })).body.code).toBe('FOGLINE_ERR_AUTH_EXPIRED');
      expect((await cp.call('DELETE', '/api/v1/tokens/0000000000000000', { token: cp.adminToken })).body.code).toBe(
        'FOGLINE_ERR_TOKEN_NOT_FOUND',
      );
    });
  });

  describe('bad input gets a clear 4xx and changes nothing', () => {
    const nodeCount = async () => (await cp.admin.listNodes()).nodes.length;

    it.each([
      ['malformed JSON', '{"name": "edge-9", ', 400, 'FOGLINE_ERR_REQUEST_MALFORMED_JSON'],
      ['an unknown field', { name: 'edge-9', role: 'edge', color: 'red' }, 400, 'FOGLINE_ERR_REQUEST_INVALID'],
      ['a missing field', { name: 'edge-9' }, 400, 'FOGLINE_ERR_REQUEST_INVALID'],
      ['an invalid name', { name: 'Edge_9!', role: 'edge' }, 400, 'FOGLINE_ERR_REQUEST_INVALID'],
      ['an invalid role', { name: 'edge-9', role: 'fog' }, 400, 'FOGLINE_ERR_REQUEST_INVALID'],
      ['an invalid label', { name: 'edge-9', role: 'edge', labels: { 'bad key': 'x' } }, 400, 'FOGLINE_ERR_LABEL_INVALID'],
      ['a duplicate name', { name: 'edge-1', role: 'edge' }, 409, 'FOGLINE_ERR_NODE_NAME_TAKEN'],
      ['an oversize body', { name: 'edge-9', role: 'edge', labels: { a: 'x'.repeat(70_000) } }, 413, 'FOGLINE_ERR_REQUEST_TOO_LARGE'],
    ] as const)('enrolment with %s', async (_, body, status, code) => {
      const before = await nodeCount();
      const answer = await cp.call('POST', '/api/v1/nodes/enroll', { token: join, body });
      expect(answer.status).toBe(status);
      expect(answer.body.code).toBe(code);
      expect(answer.body.message).toEqual(expect.any(String));
      expect(await nodeCount()).toBe(before);
    });

    it('refuses a body that is not JSON', async () => {
      const answer = await cp.call('POST', '/api/v1/tokens', {
        token: cp.adminToken,
        body: 'name=x',
        headers: { 'content-type': 'text/plain' },
      });
      expect(answer).toMatchObject({ status: 415, body: { code: 'FOGLINE_ERR_REQUEST_UNSUPPORTED_MEDIA' } });
    });

    it('refuses node credentials as tokens to hand out', async () => {
      const answer = await cp.call('POST', '/api/v1/tokens', { token: cp.adminToken, body: { name: 'n', role: 'node' } });
      expect(answer).toMatchObject({ status: 400, body: { code: 'FOGLINE_ERR_REQUEST_INVALID' } });
    });

    it('answers unknown routes with a coded 404', async () => {
      expect(await cp.call('GET', '/api/v1/nope')).toMatchObject({ status: 404, body: { code: 'FOGLINE_ERR_ROUTE_NOT_FOUND' } });
      expect((await cp.call('GET', '/api/v1/nodes/no-such-node', { token: viewer })).body.code).toBe('FOGLINE_ERR_NODE_NOT_FOUND');
    });

    it('never answers 5xx to arbitrary enrolment or token bodies, and writes only on success', async () => {
      const jsonValue = fc.oneof(
        fc.record(
          {
            name: fc.string(),
            role: fc.constantFrom('edge', 'cloud', 'fog', ''),
            labels: fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }),
          },
          { requiredKeys: [] },
        ),
        fc.jsonValue(),
      );
      await fc.assert(
        fc.asyncProperty(jsonValue, async (body) => {
          const before = await nodeCount();
          const enrol = await cp.call('POST', '/api/v1/nodes/enroll', { token: join, body: JSON.stringify(body) });
          expect(enrol.status).toBeLessThan(500);
          expect(await nodeCount()).toBe(before + (enrol.status === 201 ? 1 : 0));
          const token = await cp.call('POST', '/api/v1/tokens', { token: cp.adminToken, body: JSON.stringify(body) });
          expect(token.status).toBeLessThan(500);
          if (enrol.status === 201) await cp.admin.deleteNode(enrol.body.nodeId);
        }),
        { numRuns: 60 },
      );
    });

    it('never answers 5xx to arbitrary query strings', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.dictionary(fc.constantFrom('selector', 'status', 'role', 'limit', 'before', 'all', 'x'), fc.string()),
          async (query) => {
            const qs = new URLSearchParams(query).toString();
            for (const path of ['/api/v1/nodes', '/api/v1/audit', '/api/v1/tokens']) {
              const { status } = await cp.call('GET', `${path}?${qs}`, { token: cp.adminToken });
              expect(status).toBeLessThan(500);
            }
          },
        ),
        { numRuns: 40 },
      );
    });
  });

  it('lists nodes by selector and edits them', async () => {
    const { nodes } = await cp.admin.listNodes({ selector: 'site=plant-a' });
    expect(nodes.map((n) => n.name)).toEqual(['edge-1']);
    const labelled = await cp.admin.patchLabels('edge-1', { set: { rack: 'r4' }, remove: ['tier'] });
    expect(labelled.labels).toEqual({ site: 'plant-a', rack: 'r4' });
    expect((await cp.admin.setCordoned('edge-1', true)).cordoned).toBe(true);
    expect((await cp.admin.getNode(edge1.nodeId)).cordoned).toBe(true);
    expect((await cp.admin.setCordoned('edge-1', false)).cordoned).toBe(false);
  });

  it('revokes a deleted node’s credential', async () => {
    const client = new ApiClient({ server: cp.url });
    const doomed = await client.enroll(join, { name: 'doomed', role: 'edge' });
    expect((await cp.call('POST', `/api/v1/nodes/${doomed.nodeId}/heartbeat`, { token: doomed.credential, body: HEARTBEAT })).status).toBe(
      200,
    );
    await cp.admin.deleteNode('doomed');
    const answer = await cp.call('POST', `/api/v1/nodes/${doomed.nodeId}/heartbeat`, { token: doomed.credential, body: HEARTBEAT });
    expect(answer).toMatchObject({ status: 401, body: { code: 'FOGLINE_ERR_AUTH_REVOKED' } });
  });

  it('audits mutating calls with who, what and when, but not heartbeats (only refused ones)', async () => {
    await cp.call('POST', '/api/v1/nodes/edge-2/cordon', { token: operator });
    await cp.call('POST', '/api/v1/nodes/edge-2/uncordon', { token: viewer });
    await cp.call('POST', `/api/v1/nodes/${edge2.nodeId}/heartbeat`, { token: edge2.credential, body: HEARTBEAT });
    const { events } = await cp.admin.listAudit({ limit: 5 });
    expect(events[0]).toMatchObject({
      action: 'POST /api/v1/nodes/:id/uncordon',
      target: 'edge-2',
      statusCode: 403,
      actor: { name: 'dash', role: 'viewer' },
    });
    expect(events[1]).toMatchObject({
      action: 'POST /api/v1/nodes/:id/cordon',
      target: 'edge-2',
      statusCode: 200,
      actor: { name: 'ops', role: 'operator' },
    });
    const all = await cp.admin.listAudit({ limit: 1000 });
    // Heartbeats are telemetry; one refused as another node's (403) is a node reaching beyond itself, and audited.
    expect(all.events.some((e) => e.action.includes('heartbeat') && e.statusCode !== 403)).toBe(false);
    expect(all.events).toContainEqual(
      expect.objectContaining({
        action: 'POST /api/v1/nodes/:id/heartbeat',
        target: edge2.nodeId,
        statusCode: 403,
        actor: expect.objectContaining({ role: 'node' }),
      }),
    );
    expect(all.events.some((e) => e.action === 'POST /api/v1/nodes/enroll' && e.actor.role === 'join')).toBe(true);
    expect(JSON.stringify(all)).not.toContain(cp.adminToken.split('.')[2]);
  });
});

describe('readiness', () => {
  it('reports 503 with a coded error and Retry-After when the database is unreachable', async () => {
    const store = openStore('postgres://postgres@127.0.0.1:1/none');
    const app = await buildControlPlaneApp(
      createServices(store, {
        dataDir: tempDir('unreachable'),
        datasetLimitBytes: 1024,
        runConcurrency: 1,
        nodeTimeoutSeconds: 45,
        heartbeatIntervalSeconds: 15,
      }),
      {
        bodyLimitBytes: 1024,
      },
    );
    try {
      const healthz = await app.inject({ method: 'GET', url: '/healthz' });
      expect(healthz.statusCode).toBe(200);
      const readyz = await app.inject({ method: 'GET', url: '/readyz' });
      expect(readyz.statusCode).toBe(503);
      expect(readyz.json()).toMatchObject({ code: 'FOGLINE_ERR_DB_UNAVAILABLE' });
      expect(readyz.headers['retry-after']).toBe('5');
    } finally {
      await app.close();
      await store.close();
    }
  });
});
