/**
 * Ownership of node writes (issue 14): the access matrix pins which credential gets into a route;
 * this pins what a node credential may write once in. A node reports only about the deployments
 * placed on it, the federated rounds it is a client of and the sessions placed on it; anything
 * else is refused whole (403 FOGLINE_ERR_NODE_NOT_ASSIGNED), nothing is written, and the refusal
 * is audited. Every route a node credential can write through is listed here: a new one fails the
 * first test until its ownership is decided and tested below.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/client/api-client.js';
import type { AuditList } from '../../src/contracts/audit.js';
import type { DatasetVersionView } from '../../src/contracts/datasets.js';
import type { DeploymentView } from '../../src/contracts/deployments.js';
import type { NodeView } from '../../src/contracts/nodes.js';
import { encodeUpdate } from '../../src/ml/federated/update-codec.js';
import { IDLE_HEARTBEAT, startTestControlPlane, type TestControlPlane } from '../support/control-plane.js';
import { eventually } from '../support/processes.js';

/** Every route through which a node credential writes (mutating, and past authorisation for its own node). */
const NODE_WRITE_ROUTES = [
  'POST /api/v1/nodes/{id}/heartbeat',
  'POST /api/v1/nodes/{id}/deployment-status',
  'POST /api/v1/drift/nodes/{id}/reports',
  'POST /api/v1/drift/nodes/{id}/samples',
  'POST /api/v1/federated/nodes/{id}/jobs/{jobId}/update',
  'POST /api/v1/nodes/{id}/sessions/{sessionId}/events',
];

interface TestNode {
  name: string;
  nodeId: string;
  credential: string;
  url: string;
}

/** A drift summary as an agent files it; with a forecast error, so that the metrics show it as a gauge. */
const driftReports = (...deployments: string[]) => ({
  reports: deployments.map((deployment) => ({
    deployment,
    model: deployment,
    version: 1,
    sha256: 'a'.repeat(64),
    summary: {
      kind: 'forecaster',
      hasReference: true,
      windowHours: 168,
      from: null,
      to: null,
      rows: 48,
      features: [],
      error: { windowHours: 48, count: 48, mape: 42, validationMape: 3, pending: 0, unmatched: 0 },
    },
  })),
});

const status = (...names: string[]) => ({ deployments: names.map((name) => ({ name, version: 1, state: 'serving', servingVersion: 1 })) });

describe('node ownership: a node writes only about what its desired state gives it', { timeout: 240_000 }, () => {
  let cp: TestControlPlane;
  let operator: string;
  let viewer: string;
  let join: string;
  let a: TestNode;
  let b: TestNode;
  let c: TestNode;
  /** Hours of PJM East in the dataset: a sample after its last row would be appended. */
  let afterLastRow: number;

  const enrol = async (name: string, labels: Record<string, string>): Promise<TestNode> => {
    const url = `http://127.0.0.1:9/${name}`;
    const enrolled = await new ApiClient({ server: cp.url }).enroll(join, { name, role: 'edge', labels, inferenceUrl: url });
    return { name, nodeId: enrolled.nodeId, credential: enrolled.credential, url };
  };
  const heartbeat = (node: TestNode, inferenceUrl = node.url) =>
    cp.call('POST', `/api/v1/nodes/${node.nodeId}/heartbeat`, {
      token: node.credential,
      body: { ...IDLE_HEARTBEAT, agent: { ...IDLE_HEARTBEAT.agent, inferenceUrl } },
    });
  const post = (node: TestNode, path: string, body: object, asNode = node) =>
    cp.call('POST', path.replace('{id}', node.nodeId), { token: asNode.credential, body });
  const deployment = async (name: string) =>
    (await cp.call('GET', `/api/v1/deployments/${name}`, { token: viewer })).body as DeploymentView;
  const metrics = async () => (await fetch(`${cp.url}/metrics`, { headers: { authorization: `Bearer ${viewer}` } })).text();
  const audit = async () => ((await cp.call('GET', '/api/v1/audit?limit=500', { token: cp.adminToken })).body as AuditList).events;
  const datasetVersions = async () =>
    ((await cp.call('GET', '/api/v1/datasets/pjme', { token: viewer })).body.versions as unknown[]).length;

  function expectNotAssigned(answer: { status: number; body: any }): void {
    expect(answer.status, JSON.stringify(answer.body)).toBe(403);
    expect(answer.body.code).toBe('FOGLINE_ERR_NODE_NOT_ASSIGNED');
  }

  beforeAll(async () => {
    cp = await startTestControlPlane({ authFailureLimit: '0' });
    operator = (await cp.admin.createToken({ name: 'ops', role: 'operator' })).token;
    viewer = (await cp.admin.createToken({ name: 'viewer', role: 'viewer' })).token;
    await cp.uploadPjme(operator);
    expect(
      await cp.train(operator, { pipeline: 'forecast', dataset: 'pjme', model: 'energy', params: { epochs: 1, hidden: [8], seed: 1 } }),
    ).toBe(1);
    const versions = (await cp.call('GET', '/api/v1/datasets/pjme', { token: viewer })).body.versions as DatasetVersionView[];
    afterLastRow = Date.parse(versions.at(-1)!.timeEnd!) / 1000 + 3600;
    join = (await cp.admin.createToken({ name: 'join', role: 'join', maxUses: 10 })).token;
    a = await enrol('edge-a', { site: 'a' });
    b = await enrol('edge-b', { site: 'b' });
    c = await enrol('edge-c', { site: 'a' });
    for (const node of [a, b, c]) expect((await heartbeat(node)).status).toBe(200);
    for (const [name, site] of [
      ['energy-a', 'a'],
      ['energy-b', 'b'],
      ['energy-none', 'nowhere'],
    ]) {
      const created = await cp.call('POST', '/api/v1/deployments', {
        token: operator,
        body: { name, model: 'energy@1', nodeSelector: { site } },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
    }
    const policy = await cp.call('PUT', '/api/v1/drift/policies/energy-a', {
      token: operator,
      body: { sampleUpload: true, dataset: 'pjme' },
    });
    expect(policy.status, JSON.stringify(policy.body)).toBe(200);
    // The nodes do what their desired state says: A and C serve energy-a, B serves energy-b.
    for (const [node, name] of [
      [a, 'energy-a'],
      [c, 'energy-a'],
      [b, 'energy-b'],
    ] as const) {
      expect((await post(node, '/api/v1/nodes/{id}/deployment-status', status(name))).status).toBe(204);
      expect((await post(node, '/api/v1/drift/nodes/{id}/reports', driftReports(name))).status).toBe(200);
    }
  }, 240_000);

  afterAll(async () => {
    await cp?.close();
  });

  it('lists every route a node credential writes through', async () => {
    const { body } = await cp.call('GET', '/api/v1/openapi.json');
    const mutating = Object.entries(body.paths as Record<string, object>).flatMap(([template, operations]) =>
      Object.keys(operations)
        .map((method) => `${method.toUpperCase()} ${template}`)
        .filter((route) => !route.startsWith('GET ') && !route.includes(' /v2/')),
    );
    const nodeWrites: string[] = [];
    for (const route of mutating) {
      const [method, template] = route.split(' ') as [string, string];
      const path = template.replace('{id}', b.nodeId).replace(/\{[^}]+\}/g, 'does-not-exist');
      // Enrolment checks its join token after the body: a valid body, so that the token decides.
      const body = route === 'POST /api/v1/nodes/enroll' ? { name: 'probe', role: 'edge' } : {};
      const answer = await cp.call(method, path, { token: b.credential, body });
      const refused = answer.status === 401 || (answer.status === 403 && answer.body?.code === 'FOGLINE_ERR_AUTH_FORBIDDEN');
      if (!refused) nodeWrites.push(route);
    }
    // The /v2 inference routes take any node's credential (offloading): they answer, they store nothing of the node's.
    expect(nodeWrites.sort()).toEqual([...NODE_WRITE_ROUTES].sort());
  });

  it("deployment status: refused about another node's deployment, an unassigned one, or a batch holding either", async () => {
    expectNotAssigned(await post(b, '/api/v1/nodes/{id}/deployment-status', status('energy-a')));
    expectNotAssigned(await post(b, '/api/v1/nodes/{id}/deployment-status', status('energy-none')));
    // Whole: its own deployment's row in the same report is not written either.
    const before = (await deployment('energy-b')).nodes[0]!.updatedAt;
    const mixed = await post(b, '/api/v1/nodes/{id}/deployment-status', {
      deployments: [
        { name: 'energy-b', version: 1, state: 'failed', reason: 'should not be stored' },
        { name: 'energy-a', version: 1, state: 'serving', servingVersion: 1 },
      ],
    });
    expectNotAssigned(mixed);
    expect(mixed.body.details).toEqual({ deployments: ['energy-a'] });
    expect((await deployment('energy-a')).nodes.map((n) => n.nodeName).sort()).toEqual(['edge-a', 'edge-c']);
    expect((await deployment('energy-none')).nodes).toEqual([]);
    expect((await deployment('energy-b')).nodes).toEqual([
      expect.objectContaining({ nodeName: 'edge-b', state: 'serving', updatedAt: before }),
    ]);
    // A deployment that does not exist (deleted as the agent reported) is left out quietly, as before.
    expect((await post(b, '/api/v1/nodes/{id}/deployment-status', status('energy-b', 'deleted-meanwhile'))).status).toBe(204);
  });

  it("drift reports and samples: refused for another node's deployment or an unassigned one", async () => {
    expectNotAssigned(await post(b, '/api/v1/drift/nodes/{id}/reports', driftReports('energy-a')));
    expectNotAssigned(await post(b, '/api/v1/drift/nodes/{id}/reports', driftReports('energy-b', 'energy-none')));
    const versions = await datasetVersions();
    for (const deploymentName of ['energy-a', 'energy-none']) {
      expectNotAssigned(
        await post(b, '/api/v1/drift/nodes/{id}/samples', {
          deployment: deploymentName,
          samples: [
            { time: afterLastRow, value: 123456789 },
            { time: afterLastRow + 3600, value: -5 },
          ],
        }),
      );
    }
    expect(await datasetVersions()).toBe(versions);
    // Stored reports show in the metrics whether or not the node is placed: edge-b filed none about energy-a.
    const text = await metrics();
    expect(text).toMatch(/fogline_drift_forecast_error_mape\{deployment="energy-a",node="edge-a"/);
    expect(text).not.toMatch(/fogline_drift_forecast_error_mape\{deployment="energy-(a|none)",node="edge-b"/);
  });

  it('federated updates: refused for a round the node is not a client of', async () => {
    const started = await cp.call('POST', '/api/v1/federated/jobs', {
      token: operator,
      body: {
        model: 'digits-fl',
        datasetKind: 'digits',
        nodeSelector: { site: 'a' },
        rounds: 1,
        minFitClients: 1,
        roundTimeoutSeconds: 120,
      },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    const jobId = started.body.id as string;
    // A polls (so it counts as available) until the coordinator samples it.
    const task = await eventually(async () => {
      const { body } = await cp.call('GET', `/api/v1/federated/nodes/${a.nodeId}/tasks?wait=1`, { token: a.credential });
      return (body.tasks as { jobId: string; round: number; attempt: number }[]).find((t) => t.jobId === jobId);
    }, 30_000);
    const update = (node: TestNode, round = task.round, attempt = task.attempt) =>
      fetch(`${cp.url}/api/v1/federated/nodes/${node.nodeId}/jobs/${jobId}/update?round=${round}&attempt=${attempt}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${node.credential}`, 'content-type': 'application/octet-stream' },
        body: encodeUpdate(new Float32Array(4810).fill(0.01), 'float32', { examples: 10 }),
      }).then(async (response) => ({ status: response.status, body: (await response.json()) as any }));
    expectNotAssigned(await update(b));
    expectNotAssigned(await update(b, task.round + 5, 1));
    const view = (await cp.call('GET', `/api/v1/federated/jobs/${jobId}`, { token: viewer })).body;
    expect(JSON.stringify(view.rounds)).not.toContain(b.nodeId);
    expect(JSON.stringify(view.rounds)).not.toContain('edge-b');
    await cp.call('POST', `/api/v1/federated/jobs/${jobId}/cancel`, { token: operator });
  });

  it("session events: refused for another node's session or a cloud one", async () => {
    await heartbeat(a);
    await heartbeat(c);
    const open = async (model: string, nodeSelector: Record<string, string> = {}) => {
      const opened = await cp.call('POST', '/api/v1/sessions', { token: viewer, body: { model, kind: 'scalar', nodeSelector } });
      expect(opened.status, JSON.stringify(opened.body)).toBe(201);
      return opened.body.session as { id: string; nodeName: string | null; placement: string };
    };
    const onA = await open('energy-a');
    expect(['edge-a', 'edge-c']).toContain(onA.nodeName);
    // No node may take it (none is near): a cloud session, the control plane's own.
    const inCloud = await open('energy-none', { site: 'nowhere' });
    expect(inCloud.placement).toBe('cloud');
    for (const session of [onA, inCloud]) {
      expectNotAssigned(await post(b, `/api/v1/nodes/{id}/sessions/${session.id}/events`, { event: 'closed', reason: 'hijacked' }));
    }
    const sessions = (await cp.call('GET', '/api/v1/sessions', { token: viewer })).body.sessions as { id: string; state: string }[];
    expect(sessions.find((s) => s.id === onA.id)?.state).not.toBe('closed');
    expect(sessions.find((s) => s.id === inCloud.id)?.state).not.toBe('closed');
    const owner = onA.nodeName === 'edge-a' ? a : c;
    expect((await post(owner, `/api/v1/nodes/{id}/sessions/${onA.id}/events`, { event: 'connected' })).status).toBe(200);
  });

  it('heartbeats: the inference URL fixed at enrolment stays; another one is ignored and audited', async () => {
    const fake = 'http://127.0.0.1:9/listener-of-its-own';
    expect((await heartbeat(b, fake)).status).toBe(200);
    const node = (await cp.call('GET', `/api/v1/nodes/${b.nodeId}`, { token: viewer })).body as NodeView;
    expect(node.inferenceUrl).toBe(b.url);
    expect(node.agent?.inferenceUrl).toBe(fake);
    // A node enrolled without one (an agent from before issue 14) gets it from its first heartbeat, once.
    const old = await new ApiClient({ server: cp.url }).enroll(join, { name: 'edge-old', role: 'edge', labels: { site: 'old' } });
    const oldNode = { name: 'edge-old', nodeId: old.nodeId, credential: old.credential, url: 'http://127.0.0.1:9/edge-old' };
    expect((await cp.call('GET', `/api/v1/nodes/${old.nodeId}`, { token: viewer })).body.inferenceUrl).toBeNull();
    await heartbeat(oldNode);
    await heartbeat(oldNode, fake);
    expect((await cp.call('GET', `/api/v1/nodes/${old.nodeId}`, { token: viewer })).body.inferenceUrl).toBe(oldNode.url);
    // An operator moves it.
    const moved = await cp.call('PUT', `/api/v1/nodes/edge-old/inference-url`, { token: operator, body: { url: 'http://10.0.0.7:7071' } });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    expect(moved.body.inferenceUrl).toBe('http://10.0.0.7:7071');
    const refused = await cp.call('PUT', `/api/v1/nodes/edge-old/inference-url`, { token: operator, body: { url: 'ftp://x' } });
    expect(refused.status).toBe(400);
    const events = await audit();
    expect(events.filter((e) => e.action === 'POST /api/v1/nodes/:id/heartbeat (inferenceUrl ignored)').map((e) => e.target)).toEqual(
      expect.arrayContaining([b.nodeId, old.nodeId]),
    );
  });

  it('audits every refused node write', async () => {
    // As B's credential (fgl.<id>.<secret>), whatever the entry names as its target.
    const credentialId = b.credential.split('.')[1];
    const refusals = (await audit()).filter((e) => e.statusCode === 403 && e.actor.role === 'node' && e.actor.id === credentialId);
    const actions = new Set(refusals.map((e) => e.action));
    for (const action of [
      'POST /api/v1/nodes/:id/deployment-status',
      'POST /api/v1/drift/nodes/:id/reports',
      'POST /api/v1/drift/nodes/:id/samples',
      'POST /api/v1/federated/nodes/:id/jobs/:jobId/update',
      'POST /api/v1/nodes/:id/sessions/:sessionId/events',
    ]) {
      expect(actions, action).toContain(action);
    }
  });

  it("a deleted node's rows leave the views and the gauges; its credential and other nodes cannot write them", async () => {
    expect((await deployment('energy-a')).nodes.map((n) => n.nodeName)).toContain('edge-c');
    expect(await metrics()).toMatch(/fogline_drift_forecast_error_mape\{deployment="energy-a",node="edge-c"/);
    expect((await cp.call('DELETE', '/api/v1/nodes/edge-c', { token: operator })).status).toBe(200);

    expect((await deployment('energy-a')).nodes.map((n) => n.nodeName)).toEqual(['edge-a']);
    const all = (await cp.call('GET', '/api/v1/deployments', { token: viewer })).body.deployments as DeploymentView[];
    expect(all.flatMap((d) => d.nodes.map((n) => n.nodeId))).not.toContain(c.nodeId);
    const drift = (await cp.call('GET', '/api/v1/drift/reports', { token: viewer })).body.reports as { nodeId: string }[];
    expect(drift.map((r) => r.nodeId)).not.toContain(c.nodeId);
    const text = await metrics();
    expect(text).not.toContain('node="edge-c"');
    expect(text).toMatch(/fogline_deployment_nodes\{deployment="energy-a",state="serving"\} 1\b/);

    const bodies: Record<string, object> = {
      'POST /api/v1/nodes/{id}/heartbeat': IDLE_HEARTBEAT,
      'POST /api/v1/nodes/{id}/deployment-status': status('energy-a'),
      'POST /api/v1/drift/nodes/{id}/reports': driftReports('energy-a'),
      'POST /api/v1/drift/nodes/{id}/samples': { deployment: 'energy-a', samples: [{ time: afterLastRow, value: 1 }] },
      'POST /api/v1/federated/nodes/{id}/jobs/{jobId}/update': {},
      'POST /api/v1/nodes/{id}/sessions/{sessionId}/events': { event: 'closed' },
    };
    for (const route of NODE_WRITE_ROUTES) {
      const path = route.split(' ')[1]!.replace('{jobId}', 'fl_x').replace('{sessionId}', 'ses_x');
      // Its own credential is revoked with it; another node's credential acts only as that node.
      const own = await post(c, path, bodies[route]!);
      expect([own.status, own.body.code], route).toEqual([401, 'FOGLINE_ERR_AUTH_REVOKED']);
      const other = await post(c, path, bodies[route]!, b);
      expect([other.status, other.body.code], route).toEqual([403, 'FOGLINE_ERR_AUTH_FORBIDDEN']);
    }
    expect((await deployment('energy-a')).nodes.map((n) => n.nodeName)).toEqual(['edge-a']);
  });
});
