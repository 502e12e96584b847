/**
 * Every route × every kind of caller: who gets in and who is refused. The expected access of
 * each route is written down here, independently of the code; a route in the OpenAPI document
 * that is missing from this table fails the test, so a new route cannot ship without a decision.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/client/api-client.js';
import { startTestControlPlane, type TestControlPlane } from '../support/control-plane.js';

/**
 * public: anyone; join: a join token; a role: that role or stronger; node: the node's own credential; role+node: either;
 * viewer+any-node: a viewer token or stronger, or any node's credential (the cloud /v2 routes agents offload to);
 * session: no caller of this table (only a session token from POST /api/v1/sessions, tested in test/e2e/sessions.test.ts).
 */
type Expected = 'public' | 'join' | 'session' | 'viewer' | 'operator' | 'admin' | 'node' | 'viewer+node' | 'viewer+any-node';

const MATRIX: Record<string, Expected> = {
  'GET /healthz': 'public',
  'GET /readyz': 'public',
  'GET /metrics': 'viewer',
  'GET /api/v1/discovery/prometheus': 'viewer',
  'GET /api/v1/events': 'viewer',
  'GET /api/v1/nodes/{id}/resource-history': 'viewer',
  'POST /api/v1/tokens': 'admin',
  'GET /api/v1/tokens': 'admin',
  'DELETE /api/v1/tokens/{id}': 'admin',
  'POST /api/v1/nodes/enroll': 'join',
  'POST /api/v1/nodes/{id}/heartbeat': 'node',
  'GET /api/v1/nodes': 'viewer',
  'GET /api/v1/nodes/{id}': 'viewer+node',
  'DELETE /api/v1/nodes/{id}': 'operator',
  'PATCH /api/v1/nodes/{id}/labels': 'operator',
  'PUT /api/v1/nodes/{id}/inference-url': 'operator',
  'POST /api/v1/nodes/{id}/cordon': 'operator',
  'POST /api/v1/nodes/{id}/uncordon': 'operator',
  'POST /api/v1/nodes/{id}/approve': 'operator',
  'POST /api/v1/nodes/{id}/rotate-credential': 'operator',
  'GET /api/v1/audit': 'admin',
  // A public key: agents pin it at enrolment; nothing secret in it.
  'GET /api/v1/registry/public-key': 'public',
  'GET /api/v1/models': 'viewer',
  'GET /api/v1/models/{name}': 'viewer',
  'GET /api/v1/models/{name}/versions': 'viewer',
  'GET /api/v1/models/{name}/versions/{version}': 'viewer',
  'GET /api/v1/models/{name}/versions/{version}/artifact': 'viewer',
  'PUT /api/v1/models/{name}/aliases/{alias}': 'operator',
  'DELETE /api/v1/models/{name}/aliases/{alias}': 'operator',
  'PATCH /api/v1/models/{name}/versions/{version}/tags': 'operator',
  'POST /api/v1/datasets/{name}/versions': 'operator',
  'POST /api/v1/models/{name}/versions': 'operator',
  'GET /api/v1/datasets': 'viewer',
  'GET /api/v1/datasets/{name}': 'viewer',
  'GET /api/v1/datasets/{name}/versions/{version}': 'viewer',
  'GET /api/v1/datasets/{name}/versions/{version}/file': 'viewer',
  'GET /api/v1/datasets/{name}/series': 'viewer',
  'GET /api/v1/pipelines': 'viewer',
  'POST /api/v1/runs': 'operator',
  'GET /api/v1/runs': 'viewer',
  'GET /api/v1/runs/{id}': 'viewer',
  'GET /api/v1/runs/{id}/events': 'viewer',
  'POST /api/v1/runs/{id}/cancel': 'operator',
  'POST /api/v1/runs/{id}/claim': 'operator',
  'POST /api/v1/runs/{id}/attempts/{attempt}/reports': 'operator',
  'POST /api/v1/runs/{id}/attempts/{attempt}/release': 'operator',
  'POST /api/v1/runs/{id}/attempts/{attempt}/complete': 'operator',
  'POST /api/v1/deployments': 'operator',
  'GET /api/v1/deployments': 'viewer',
  'GET /api/v1/deployments/{name}': 'viewer',
  'DELETE /api/v1/deployments/{name}': 'operator',
  'POST /api/v1/deployments/{name}/rollback': 'operator',
  'GET /api/v1/nodes/{id}/desired-state': 'node',
  'POST /api/v1/nodes/{id}/deployment-status': 'node',
  'GET /api/v1/nodes/{id}/artifacts/{model}/{version}': 'node',
  // Liveness and readiness, as KServe and Triton serve them: for load balancers, without a token.
  'PUT /api/v1/drift/policies/{deployment}': 'operator',
  'GET /api/v1/drift/policies': 'viewer',
  'GET /api/v1/drift/policies/{deployment}': 'viewer',
  'DELETE /api/v1/drift/policies/{deployment}': 'operator',
  'POST /api/v1/drift/policies/{deployment}/retrain': 'operator',
  'GET /api/v1/drift/events': 'viewer',
  'GET /api/v1/drift/events/{id}': 'viewer',
  'GET /api/v1/drift/reports': 'viewer',
  'POST /api/v1/drift/nodes/{id}/reports': 'node',
  'POST /api/v1/drift/nodes/{id}/samples': 'node',
  'POST /api/v1/federated/jobs': 'operator',
  'GET /api/v1/federated/jobs': 'viewer',
  'GET /api/v1/federated/jobs/{id}': 'viewer',
  'POST /api/v1/federated/jobs/{id}/cancel': 'operator',
  'GET /api/v1/federated/nodes/{id}/tasks': 'node',
  'GET /api/v1/federated/nodes/{id}/jobs/{jobId}/weights': 'node',
  'POST /api/v1/federated/nodes/{id}/jobs/{jobId}/update': 'node',
  'GET /v2': 'public',
  'GET /v2/health/live': 'public',
  'GET /v2/health/ready': 'public',
  'GET /v2/models/{name}': 'viewer+any-node',
  'GET /v2/models/{name}/versions/{version}': 'viewer+any-node',
  'GET /v2/models/{name}/ready': 'viewer+any-node',
  'POST /v2/models/{name}/infer': 'viewer+any-node',
  'POST /v2/models/{name}/versions/{version}/infer': 'viewer+any-node',
  'POST /api/v1/sessions': 'viewer',
  'GET /api/v1/sessions': 'viewer',
  'DELETE /api/v1/sessions/{sessionId}': 'viewer',
  'POST /api/v1/nodes/{id}/sessions/{sessionId}/events': 'node',
  // Cloud sessions' WebSocket streams (not in the OpenAPI document): no API token gets in; only a
  // session token (?session=) does.
  'GET /v2/models/{name}/stream': 'session',
  'GET /v2/models/{name}/versions/{version}/stream': 'session',
};

// An inference token is for agents' /v2 and /metrics (checked there, test/e2e/edge-auth.test.ts): the
// control plane lets it in nowhere but the public routes.
type Caller = 'anonymous' | 'wrong-token' | 'viewer' | 'operator' | 'admin' | 'join' | 'own-node' | 'other-node' | 'inference';
const CALLERS: Caller[] = ['anonymous', 'wrong-token', 'viewer', 'operator', 'admin', 'join', 'own-node', 'other-node', 'inference'];
const ROLE_RANK = { viewer: 1, operator: 2, admin: 3 } as const;

/** Whether `caller` should get past authentication and authorisation on a route with `expected` access. */
function allowed(expected: Expected, caller: Caller): boolean {
  if (expected === 'public') return true;
  if (expected === 'join') return caller === 'join';
  if (expected === 'session') return false;
  if (expected === 'node') return caller === 'own-node';
  if (expected === 'viewer+node' && caller === 'own-node') return true;
  if (expected === 'viewer+any-node' && (caller === 'own-node' || caller === 'other-node')) return true;
  const needed = expected === 'viewer+node' || expected === 'viewer+any-node' ? 'viewer' : expected;
  return caller in ROLE_RANK && ROLE_RANK[caller as keyof typeof ROLE_RANK] >= ROLE_RANK[needed];
}

/** Status and error code; streams (server-sent events) stay open, so their body is not read. */
async function call(
  base: string,
  method: string,
  path: string,
  token: string | undefined,
  body?: object,
): Promise<{ status: number; code?: string }> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const withBody = method !== 'GET' && method !== 'DELETE';
  if (withBody) headers['content-type'] = 'application/json';
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    body: withBody ? JSON.stringify(body ?? {}) : undefined,
    signal: AbortSignal.timeout(10_000),
  });
  if (!response.headers.get('content-type')?.startsWith('application/json')) {
    await response.body?.cancel();
    return { status: response.status };
  }
  return { status: response.status, code: ((await response.json()) as { code?: string }).code };
}

describe('access matrix: every route, every caller', () => {
  let cp: TestControlPlane;
  const tokens = {} as Record<Caller, string | undefined>;
  let ownNode: string;

  beforeAll(async () => {
    // Every caller × every route makes far more failed token checks than a real client would.
    cp = await startTestControlPlane({ authFailureLimit: '0' });
    tokens.viewer = (await cp.admin.createToken({ name: 'viewer', role: 'viewer' })).token;
    tokens.operator = (await cp.admin.createToken({ name: 'operator', role: 'operator' })).token;
    tokens.admin = cp.adminToken;
    tokens.join = (await cp.admin.createToken({ name: 'join', role: 'join', maxUses: 10 })).token;
    tokens.inference = (await cp.admin.createToken({ name: 'inference', role: 'inference', metrics: true })).token;
    tokens['wrong-token'] = `${tokens.viewer.slice(0, -4)}AAAA`;
    const client = new ApiClient({ server: cp.url });
    const own = await client.enroll(tokens.join, { name: 'edge-own', role: 'edge' });
    const other = await client.enroll(tokens.join, { name: 'edge-other', role: 'edge' });
    ownNode = own.nodeId;
    tokens['own-node'] = own.credential;
    tokens['other-node'] = other.credential;
  });

  afterAll(async () => {
    await cp?.close();
  });

  it('lists every route of the OpenAPI document in the matrix, and no route that is gone', async () => {
    const { body } = await cp.call('GET', '/api/v1/openapi.json');
    const documented = Object.entries(body.paths as Record<string, object>).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(
      documented.filter((route) => !(route in MATRIX)),
      'routes without an expected access: add them to MATRIX',
    ).toEqual([]);
    expect(
      // WebSocket routes are not in the OpenAPI document; they are still called below.
      Object.keys(MATRIX).filter((route) => !documented.includes(route) && MATRIX[route] !== 'session'),
      'routes in MATRIX that no longer exist',
    ).toEqual([]);
  });

  it('lets in exactly the callers each route allows, and refuses the others with 401 or 403', async () => {
    const mismatches: string[] = [];
    for (const [route, expected] of Object.entries(MATRIX)) {
      const [method, template] = route.split(' ') as [string, string];
      for (const caller of CALLERS) {
        // Node-scoped routes name the calling node; other ids are placeholders that do not exist,
        // so that the calls that get in change nothing.
        const path = template
          .replace('{id}', expected === 'node' || expected === 'viewer+node' ? ownNode : 'does-not-exist')
          .replace('{name}', 'no-such-model')
          .replace('{model}', 'no-such-model')
          .replace('{version}', '1')
          .replace('{alias}', 'champion')
          .replace('{jobId}', 'no-such-job')
          .replace('{sessionId}', 'no-such-session');
        // Enrolment reads its join token after the body: send a valid one, so the token decides.
        const body = route === 'POST /api/v1/nodes/enroll' ? { name: `matrix-${caller}`, role: 'edge' } : undefined;
        const { status, code } = await call(cp.url, method, path, tokens[caller], body);
        // A node may fetch only artifacts assigned to it: past authorisation, that is a 403 of its own.
        const refused = (status === 401 || status === 403) && code !== 'FOGLINE_ERR_ARTIFACT_NOT_ASSIGNED';
        if (refused === allowed(expected, caller)) mismatches.push(`${route} as ${caller}: ${status} (expected ${expected})`);
        if (caller === 'anonymous' && refused && status !== 401) mismatches.push(`${route} anonymous: ${status}, not 401`);
      }
    }
    expect(mismatches).toEqual([]);
  });
});
