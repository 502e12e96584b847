import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/client/api-client.js';
import type { DesiredState } from '../../src/contracts/deployments.js';
import { IDLE_HEARTBEAT, startTestControlPlane, type TestControlPlane } from '../support/control-plane.js';

describe('deployments and desired state', () => {
  let cp: TestControlPlane;
  let operator: string;
  let siteA: { nodeId: string; credential: string };
  let siteB: { nodeId: string; credential: string };

  const trainVersion = (seed: number) =>
    cp.train(operator, { pipeline: 'forecast', dataset: 'pjme', model: 'energy', params: { epochs: 1, hidden: [16], seed } });
  const desired = async (node: { nodeId: string; credential: string }, query = '') =>
    (await cp.call('GET', `/api/v1/nodes/${node.nodeId}/desired-state${query}`, { token: node.credential })).body as DesiredState;
  const heartbeat = (node: { nodeId: string; credential: string }) =>
    cp.call('POST', `/api/v1/nodes/${node.nodeId}/heartbeat`, { token: node.credential, body: IDLE_HEARTBEAT });

  beforeAll(async () => {
    cp = await startTestControlPlane();
    operator = (await cp.admin.createToken({ name: 'ops', role: 'operator' })).token;
    await cp.uploadPjme(operator);
    expect(await trainVersion(1)).toBe(1);
    await cp.admin.setAlias('energy', 'champion', 1);
    const join = (await cp.admin.createToken({ name: 'join', role: 'join', maxUses: 2 })).token;
    const client = new ApiClient({ server: cp.url });
    siteA = await client.enroll(join, { name: 'edge-a', role: 'edge', labels: { site: 'plant-a' } });
    siteB = await client.enroll(join, { name: 'edge-b', role: 'edge', labels: { site: 'plant-b' } });
    await heartbeat(siteA);
    await heartbeat(siteB);
  });

  afterAll(async () => {
    await cp?.close();
  });

  it('places a deployment on the nodes its selector picks', async () => {
    const created = await cp.call('POST', '/api/v1/deployments', {
      token: operator,
      body: { name: 'energy', model: 'energy@champion', nodeSelector: { site: 'plant-a' } },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'energy', version: 1, nodes: [{ nodeName: 'edge-a', state: 'pending' }] });
    const a = await desired(siteA);
    expect(a.deployments).toEqual([
      expect.objectContaining({
        name: 'energy',
        model: 'energy',
        version: 1,
        kind: 'forecaster',
        downloadPath: `/api/v1/nodes/${siteA.nodeId}/artifacts/energy/1`,
      }),
    ]);
    expect((await desired(siteB)).deployments).toEqual([]);
  });

  it('answers a long poll as soon as moving the alias changes what a node serves', async () => {
    const version = await trainVersion(2);
    const before = await desired(siteA);
    const started = Date.now();
    const poll = desired(siteA, `?revision=${before.revision}&waitSeconds=20`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await cp.admin.setAlias('energy', 'champion', version);
    const after = await poll;
    const waited = Date.now() - started;
    expect(after.revision).not.toBe(before.revision);
    expect(after.deployments[0]?.version).toBe(version);
    // Well under the 2 s recheck: the alias move itself wakes the poll.
    expect(waited).toBeLessThan(1900);
  });

  it('serves a node only the bundles assigned to it, resumable', async () => {
    const assigned = (await desired(siteA)).deployments[0]!;
    const full = await fetch(`${cp.url}${assigned.downloadPath}`, { headers: { authorization: `Bearer ${siteA.credential}` } });
    const bytes = Buffer.from(await full.arrayBuffer());
    expect(full.status).toBe(200);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(assigned.sha256);
    const rest = await fetch(`${cp.url}${assigned.downloadPath}`, {
      headers: { authorization: `Bearer ${siteA.credential}`, range: 'bytes=100-' },
    });
    expect(rest.status).toBe(206);
    expect(Buffer.from(await rest.arrayBuffer())).toEqual(bytes.subarray(100));
    const other = await cp.call('GET', `/api/v1/nodes/${siteB.nodeId}/artifacts/energy/${assigned.version}`, { token: siteB.credential });
    expect(other).toMatchObject({ status: 403, body: { code: 'FOGLINE_ERR_ARTIFACT_NOT_ASSIGNED' } });
    expect((await cp.call('GET', `/api/v1/nodes/${siteA.nodeId}/artifacts/energy/1`, { token: siteA.credential })).status).toBe(403);
    expect((await cp.call('GET', assigned.downloadPath, { token: siteB.credential })).status).toBe(403);
  });

  it('shows what each node reports', async () => {
    const version = (await desired(siteA)).deployments[0]!.version;
    const report = await cp.call('POST', `/api/v1/nodes/${siteA.nodeId}/deployment-status`, {
      token: siteA.credential,
      body: {
        deployments: [
          { name: 'energy', version, state: 'serving', localRequests: 5, offloadedRequests: 2 },
          { name: 'gone', version: 1, state: 'serving' },
        ],
      },
    });
    expect(report.status).toBe(204);
    const view = (await cp.call('GET', '/api/v1/deployments/energy', { token: operator })).body;
    expect(view.nodes).toEqual([
      expect.objectContaining({
        nodeName: 'edge-a',
        version,
        servingVersion: version,
        state: 'serving',
        localRequests: 5,
        offloadedRequests: 2,
      }),
    ]);
  });

  it('takes a deployment off cordoned nodes and everywhere when deleted', async () => {
    await cp.admin.setCordoned('edge-a', true);
    expect((await desired(siteA)).deployments).toEqual([]);
    await cp.admin.setCordoned('edge-a', false);
    expect((await desired(siteA)).deployments).toHaveLength(1);
    expect((await cp.call('DELETE', '/api/v1/deployments/energy', { token: operator })).status).toBe(204);
    expect((await desired(siteA)).deployments).toEqual([]);
  });

  it('refuses bad deployments with clear errors', async () => {
    const create = (body: object, token = operator) => cp.call('POST', '/api/v1/deployments', { token, body });
    expect((await create({ name: 'x', model: 'nothing@champion' })).body.code).toBe('FOGLINE_ERR_MODEL_NOT_FOUND');
    expect((await create({ name: 'x', model: 'energy@staging' })).body.code).toBe('FOGLINE_ERR_MODEL_ALIAS_NOT_FOUND');
    expect((await create({ name: 'x', model: 'energy', nodeSelector: { 'bad key': 'v' } })).body.code).toBe('FOGLINE_ERR_LABEL_INVALID');
    expect((await create({ name: 'Bad_Name', model: 'energy' })).status).toBe(400);
    expect((await create({ name: 'x', model: 'energy' }, (await cp.admin.createToken({ name: 'v', role: 'viewer' })).token)).status).toBe(
      403,
    );
    expect((await create({ name: 'dup', model: 'energy' })).status).toBe(201);
    expect((await create({ name: 'dup', model: 'energy' })).body.code).toBe('FOGLINE_ERR_DEPLOYMENT_NAME_TAKEN');
    expect((await cp.call('GET', `/api/v1/nodes/${siteB.nodeId}/desired-state`, { token: siteA.credential })).status).toBe(403);
  });
});

describe('shutting down with long polls open', () => {
  it('answers waiting polls at once instead of holding the shutdown', async () => {
    const cp = await startTestControlPlane();
    const join = (await cp.admin.createToken({ name: 'join', role: 'join' })).token;
    const node = await new ApiClient({ server: cp.url }).enroll(join, { name: 'edge-z', role: 'edge' });
    const first = (await cp.call('GET', `/api/v1/nodes/${node.nodeId}/desired-state`, { token: node.credential })).body as DesiredState;
    const poll = cp.call('GET', `/api/v1/nodes/${node.nodeId}/desired-state?revision=${first.revision}&waitSeconds=30`, {
      token: node.credential,
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = Date.now();
    await cp.close();
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await poll).status).toBe(200);
  });
});
