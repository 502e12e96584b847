/**
 * The audit log names the target of every action over real HTTP: the model version, alias,
 * deployment, dataset version, drift policy, federated job, run, token and node each call acted
 * on (before, `target` was null for every route without an `:id`). Every mutating route of the
 * OpenAPI document has a rule for its target.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/client/api-client.js';
import type { AuditEvent } from '../../src/contracts/audit.js';
import { hasTargetRule } from '../../src/control-plane/audit-target.js';
import { startTestControlPlane, type TestControlPlane } from '../support/control-plane.js';

describe('audit targets', { timeout: 120_000 }, () => {
  let cp: TestControlPlane;
  const admin = (method: string, route: string, body?: object) => cp.call(method, route, { token: cp.adminToken, body });
  const events = async () => ((await admin('GET', '/api/v1/audit?limit=1000')).body.events as AuditEvent[]).reverse();

  beforeAll(async () => {
    cp = await startTestControlPlane();
  });

  afterAll(async () => {
    await cp?.close();
  });

  it('records what each action acted on', async () => {
    const expected: Array<[action: string, target: string, status: number]> = [];
    type Answer = Awaited<ReturnType<typeof admin>>;
    const act = async (method: string, route: string, pattern: string, target: string | ((answer: Answer) => string), body?: object) => {
      const answer = await admin(method, route, body);
      expected.push([`${method} ${pattern}`, typeof target === 'function' ? target(answer) : target, answer.status]);
      return answer;
    };
    const token = await act('POST', '/api/v1/tokens', '/api/v1/tokens', (answer) => answer.body.info.id, { name: 'ops', role: 'operator' });
    await act('DELETE', `/api/v1/tokens/${token.body.info.id}`, '/api/v1/tokens/:id', token.body.info.id);
    await cp.uploadPjme();
    expected.push(['POST /api/v1/datasets/:name/versions', 'pjme@1', 201]);
    const run = await act('POST', '/api/v1/runs', '/api/v1/runs', (answer) => answer.body.id, {
      pipeline: 'forecast',
      dataset: 'pjme',
      model: 'energy',
      gate: 'none',
      params: { epochs: 1, hidden: [8], seed: 1 },
    });
    await expect.poll(async () => (await admin('GET', `/api/v1/runs/${run.body.id}`)).body.status, { timeout: 90_000 }).toBe('succeeded');
    await act('PUT', '/api/v1/models/energy/aliases/champion', '/api/v1/models/:name/aliases/:alias', 'energy@champion', { version: 1 });
    await act('PUT', '/api/v1/models/energy/aliases/staging', '/api/v1/models/:name/aliases/:alias', 'energy@staging', { version: 1 });
    await act('DELETE', '/api/v1/models/energy/aliases/staging', '/api/v1/models/:name/aliases/:alias', 'energy@staging');
    await act('PATCH', '/api/v1/models/energy/versions/1/tags', '/api/v1/models/:name/versions/:version/tags', 'energy@1', {
      set: { team: 'grid' },
    });
    await act('POST', '/api/v1/deployments', '/api/v1/deployments', 'energy', { name: 'energy', model: 'energy@champion' });
    // A refused create names what it tried to make.
    await act('POST', '/api/v1/deployments', '/api/v1/deployments', 'ghost', { name: 'ghost', model: 'no-such-model@champion' });
    await act('POST', '/api/v1/deployments/energy/rollback', '/api/v1/deployments/:name/rollback', 'energy', {});
    await act('PUT', '/api/v1/drift/policies/energy', '/api/v1/drift/policies/:deployment', 'energy', { action: 'retrain' });
    await act('POST', '/api/v1/drift/policies/energy/retrain', '/api/v1/drift/policies/:deployment/retrain', 'energy', {});
    await act('DELETE', '/api/v1/drift/policies/energy', '/api/v1/drift/policies/:deployment', 'energy');
    const job = await act('POST', '/api/v1/federated/jobs', '/api/v1/federated/jobs', (answer) => answer.body.id, {
      model: 'digits-fl',
      datasetKind: 'digits',
      rounds: 1,
      minFitClients: 1,
    });
    await act('POST', `/api/v1/federated/jobs/${job.body.id}/cancel`, '/api/v1/federated/jobs/:id/cancel', job.body.id);
    const joinCreated = await new ApiClient({ server: cp.url, token: cp.adminToken }).createToken({
      name: 'join',
      role: 'join',
      maxUses: 1,
    });
    const join = joinCreated.token;
    expected.push(['POST /api/v1/tokens', joinCreated.info.id, 201]);
    const enrolled = await new ApiClient({ server: cp.url }).enroll(join, { name: 'edge-t', role: 'edge' });
    expected.push(['POST /api/v1/nodes/enroll', enrolled.nodeId, 201]);
    await act('PATCH', '/api/v1/nodes/edge-t/labels', '/api/v1/nodes/:id/labels', 'edge-t', { set: { site: 'x' } });
    await act('DELETE', '/api/v1/deployments/energy', '/api/v1/deployments/:name', 'energy');

    const recorded = (await events()).map((e) => [e.action, e.target, e.statusCode]);
    expect(recorded).toEqual(expected);
    // Nothing secret from an answer reaches the log: only the id of what was made.
    expect(JSON.stringify(await events())).not.toContain(join.split('.')[2]);
  });

  it('has a rule for the target of every mutating route', async () => {
    const spec = (await cp.call('GET', '/api/v1/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
    const routes = Object.entries(spec.paths).flatMap(([path, operations]) =>
      Object.keys(operations)
        .filter((method) => ['post', 'put', 'patch', 'delete'].includes(method))
        .map((method) => [method.toUpperCase(), path.replace(/\{(\w+)\}/g, ':$1')] as const),
    );
    expect(routes.length).toBeGreaterThan(20);
    expect(routes.filter(([method, route]) => !hasTargetRule(method, route)).map((r) => r.join(' '))).toEqual([]);
  });
});
