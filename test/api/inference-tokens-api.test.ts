/**
 * Inference tokens on the control plane: created scoped to deployments (and/or /metrics), listed
 * with their scopes, and handed to exactly the agents that need them with their desired state —
 * hashes only — so that a revocation reaches them with the next long poll. The agent side is
 * test/e2e/edge-auth.test.ts.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTROL_PLANE_EDGE_TOKEN_ID } from '../../src/auth/control-plane-edge-token.js';
import { parseToken } from '../../src/auth/token-secret.js';
import { ApiClient } from '../../src/client/api-client.js';
import type { DesiredState } from '../../src/contracts/deployments.js';
import { IDLE_HEARTBEAT, startTestControlPlane, type TestControlPlane } from '../support/control-plane.js';

type Node = { nodeId: string; credential: string };

describe('inference tokens: scoped, distributed with desired state', () => {
  let cp: TestControlPlane;
  let siteA: Node;
  let siteB: Node;
  let cloud: Node;

  const desired = async (node: Node, query = '') => {
    const answer = await cp.call('GET', `/api/v1/nodes/${node.nodeId}/desired-state${query}`, { token: node.credential });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    return answer.body as DesiredState;
  };
  const create = (body: object) => cp.call('POST', '/api/v1/tokens', { token: cp.adminToken, body });
  const sha256 = (token: string) => createHash('sha256').update(parseToken(token)!.secret).digest('hex');

  beforeAll(async () => {
    cp = await startTestControlPlane();
    await cp.uploadPjme();
    await cp.train(cp.adminToken, { pipeline: 'forecast', dataset: 'pjme', model: 'energy', params: { epochs: 1, hidden: [8], seed: 1 } });
    const join = (await cp.admin.createToken({ name: 'join', role: 'join', maxUses: 3 })).token;
    const client = new ApiClient({ server: cp.url });
    siteA = await client.enroll(join, { name: 'edge-a', role: 'edge', labels: { site: 'plant-a' } });
    siteB = await client.enroll(join, { name: 'edge-b', role: 'edge', labels: { site: 'plant-b' } });
    cloud = await client.enroll(join, { name: 'cloud-1', role: 'cloud', labels: { site: 'cloud' } });
    for (const node of [siteA, siteB, cloud]) {
      const beat = await cp.call('POST', `/api/v1/nodes/${node.nodeId}/heartbeat`, { token: node.credential, body: IDLE_HEARTBEAT });
      expect(beat.status).toBe(200);
    }
    for (const [name, site] of [
      ['energy', 'plant-a'],
      ['other', 'plant-b'],
      ['replicated', 'cloud'],
    ] as const) {
      const created = await cp.call('POST', '/api/v1/deployments', {
        token: cp.adminToken,
        body: { name, model: 'energy', nodeSelector: { site } },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
    }
  }, 120_000);

  afterAll(async () => {
    await cp?.close();
  });

  it('creates an inference token scoped to deployments, and refuses scopes that make no sense', async () => {
    const created = await create({ name: 'energy app', role: 'inference', deployments: ['energy', 'other', 'energy'] });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.info).toMatchObject({ role: 'inference', deployments: ['energy', 'other'], metrics: false });

    // Nothing to open; scopes on another role; a deployment that does not exist; not a deployment name.
    expect((await create({ name: 'x', role: 'inference' })).body.code).toBe('FOGLINE_ERR_REQUEST_INVALID');
    expect((await create({ name: 'x', role: 'viewer', deployments: ['energy'] })).status).toBe(400);
    expect((await create({ name: 'x', role: 'viewer', metrics: true })).status).toBe(400);
    const missing = await create({ name: 'x', role: 'inference', deployments: ['energi'] });
    expect([missing.status, missing.body.code]).toEqual([404, 'FOGLINE_ERR_DEPLOYMENT_NOT_FOUND']);
    expect((await create({ name: 'x', role: 'inference', deployments: ['*'] })).status).toBe(400);

    const listed = await cp.call('GET', '/api/v1/tokens', { token: cp.adminToken });
    const info = (listed.body.tokens as { id: string; deployments?: string[] }[]).find((t) => t.id === created.body.info.id);
    expect(info?.deployments).toEqual(['energy', 'other']);
  });

  it('is refused by every route of the control plane itself, its /v2 included', async () => {
    const { token } = (await create({ name: 'app', role: 'inference', deployments: ['energy'], metrics: true })).body;
    for (const [method, path] of [
      ['GET', '/api/v1/nodes'],
      ['GET', '/metrics'],
      ['POST', '/v2/models/energy/infer'],
      ['GET', '/api/v1/discovery/prometheus'],
    ] as const) {
      const answer = await cp.call(method, path, { token, body: method === 'POST' ? {} : undefined });
      expect(answer.status, `${method} ${path}`).toBe(403);
    }
  });

  it('hands each node, with its desired state, only the hashes of the tokens for what it serves, narrowed to that', async () => {
    const both = await create({ name: 'both', role: 'inference', deployments: ['energy', 'other'] });
    const scrape = await create({ name: 'prometheus', role: 'inference', metrics: true });
    const a = await desired(siteA);
    const b = await desired(siteB);
    const entryA = a.edgeTokens?.find((t) => t.id === both.body.info.id);
    expect(entryA).toEqual({
      id: both.body.info.id,
      sha256: sha256(both.body.token),
      deployments: ['energy'],
      metrics: false,
      expiresAt: null,
    });
    expect(b.edgeTokens?.find((t) => t.id === both.body.info.id)?.deployments).toEqual(['other']);
    // The metrics token goes everywhere; nothing that could be presented as a token is ever sent.
    for (const state of [a, b]) expect(state.edgeTokens?.find((t) => t.id === scrape.body.info.id)?.metrics).toBe(true);
    expect(JSON.stringify([a, b])).not.toContain(parseToken(both.body.token)!.secret);
    // The control plane's own token (for its calls to cloud replicas) only reaches cloud nodes.
    expect(a.edgeTokens?.some((t) => t.id === CONTROL_PLANE_EDGE_TOKEN_ID)).toBe(false);
    expect((await desired(cloud)).edgeTokens?.find((t) => t.id === CONTROL_PLANE_EDGE_TOKEN_ID)?.deployments).toEqual(['*']);
  });

  it('answers a waiting long poll with a new revision when a token is revoked, without the token', async () => {
    const { body } = await create({ name: 'short-lived', role: 'inference', deployments: ['energy'] });
    const before = await desired(siteA);
    expect(before.edgeTokens?.some((t) => t.id === body.info.id)).toBe(true);
    const waiting = desired(siteA, `?revision=${before.revision}&waitSeconds=30`);
    expect((await cp.call('DELETE', `/api/v1/tokens/${body.info.id}`, { token: cp.adminToken })).status).toBe(204);
    const after = await waiting;
    expect(after.revision).not.toBe(before.revision);
    expect(after.edgeTokens?.some((t) => t.id === body.info.id)).toBe(false);
  });

  it('marks the deployments whose drift policy uploads samples', async () => {
    expect((await desired(siteA)).deployments[0]?.sampleUpload).toBeUndefined();
    const policy = await cp.call('PUT', '/api/v1/drift/policies/energy', { token: cp.adminToken, body: { sampleUpload: true } });
    expect(policy.status, JSON.stringify(policy.body)).toBe(200);
    expect((await desired(siteA)).deployments[0]?.sampleUpload).toBe(true);
  });
});
