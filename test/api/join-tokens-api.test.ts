/**
 * Join tokens that decide for their nodes, pending nodes and credential rotation, over real HTTP
 * against a real control plane (SQLite). The agent side, with real processes, is in
 * test/e2e/node-trust.test.ts; the clock-driven parts (renewal at half-life, expiry) in
 * test/store/credential-rotation.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/client/api-client.js';
import type { JoinPolicy } from '../../src/contracts/join-policy.js';
import type { NodeView } from '../../src/contracts/nodes.js';
import type { TokenInfo } from '../../src/contracts/tokens.js';
import { IDLE_HEARTBEAT as HEARTBEAT, startTestControlPlane, type TestControlPlane } from '../support/control-plane.js';

describe('join tokens, pending nodes and credential rotation over HTTP', () => {
  let cp: TestControlPlane;
  let viewer: string;
  let operator: string;

  /** A join token with this policy (and max uses), as POST /api/v1/tokens makes it. */
  async function joinToken(joinPolicy: JoinPolicy, maxUses = 10): Promise<{ token: string; id: string }> {
    const created = await cp.call('POST', '/api/v1/tokens', {
      token: cp.adminToken,
      body: { name: 'join', role: 'join', maxUses, joinPolicy },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    return { token: created.body.token, id: created.body.info.id };
  }

  const enroll = (token: string, body: object) => cp.call('POST', '/api/v1/nodes/enroll', { token, body });
  const heartbeat = (nodeId: string, credential: string) =>
    cp.call('POST', `/api/v1/nodes/${nodeId}/heartbeat`, { token: credential, body: HEARTBEAT });
  const nodeNames = async () => (await cp.admin.listNodes()).nodes.map((n) => n.name);
  const tokenInfo = async (id: string) => (await cp.admin.listTokens(true)).tokens.find((t) => t.id === id) as TokenInfo;

  beforeAll(async () => {
    cp = await startTestControlPlane();
    viewer = (await cp.admin.createToken({ name: 'dash', role: 'viewer' })).token;
    operator = (await cp.admin.createToken({ name: 'ops', role: 'operator' })).token;
  });

  afterAll(async () => {
    await cp?.close();
  });

  it('stores what a join token decides and shows it, for join tokens only, with labels and patterns checked', async () => {
    const policy = { nodeRole: 'edge', nodeLabels: { zone: 'north' }, allowedLabels: ['site=plant-*'], requireApproval: true };
    const { id } = await joinToken({ ...policy, credentialTtlSeconds: 86_400 } as JoinPolicy);
    expect((await tokenInfo(id)).joinPolicy).toEqual({ ...policy, credentialTtlSeconds: 86_400 });
    const refused = async (body: object) => (await cp.call('POST', '/api/v1/tokens', { token: cp.adminToken, body })).body.code;
    expect(await refused({ name: 'v', role: 'viewer', joinPolicy: { nodeRole: 'edge' } })).toBe('FOGLINE_ERR_REQUEST_INVALID');
    expect(await refused({ name: 'j', role: 'join', joinPolicy: { allowedLabels: ['site'] } })).toBe('FOGLINE_ERR_LABEL_INVALID');
    expect(await refused({ name: 'j', role: 'join', joinPolicy: { nodeLabels: { 'bad key': 'x' } } })).toBe('FOGLINE_ERR_LABEL_INVALID');
    // Renewed at half-life with a heartbeat every 15 s (the default): 30 s would leave one heartbeat.
    expect(await refused({ name: 'j', role: 'join', joinPolicy: { credentialTtlSeconds: 30 } })).toBe('FOGLINE_ERR_REQUEST_INVALID');
  });

  it('refuses a node asking for another role: nothing used up, no node, the refusal audited as the join token', async () => {
    const join = await joinToken({ nodeRole: 'edge' }, 1);
    const refused = await enroll(join.token, { name: 'rogue-cloud', role: 'cloud' });
    expect(refused).toMatchObject({ status: 403, body: { code: 'FOGLINE_ERR_JOIN_ROLE_REFUSED' } });
    expect(refused.body.message).toContain('--role edge');
    expect(await nodeNames()).not.toContain('rogue-cloud');
    expect((await tokenInfo(join.id)).uses).toBe(0);
    const { events } = await cp.admin.listAudit({ limit: 20 });
    expect(events.find((e) => e.action === 'POST /api/v1/nodes/enroll' && e.statusCode === 403)).toMatchObject({
      actor: { id: join.id, role: 'join' },
    });
    // Its one use is still there for an edge node.
    expect((await enroll(join.token, { name: 'honest-edge', role: 'edge' })).status).toBe(201);
    expect((await tokenInfo(join.id)).uses).toBe(1);
  });

  it("gives the token's labels to a node that asks for none and refuses others; operators still relabel", async () => {
    const join = await joinToken({ nodeLabels: { site: 'plant-a', zone: 'north' } });
    const enrolled = await enroll(join.token, { name: 'fixed-1', role: 'edge' });
    expect(enrolled.status).toBe(201);
    expect((await cp.admin.getNode('fixed-1')).labels).toEqual({ site: 'plant-a', zone: 'north' });
    const other = await enroll(join.token, { name: 'fixed-2', role: 'edge', labels: { zone: 'south' } });
    expect(other).toMatchObject({ status: 403, body: { code: 'FOGLINE_ERR_JOIN_LABELS_REFUSED' } });
    expect(other.body.message).toContain('zone=south');
    expect(await nodeNames()).not.toContain('fixed-2');
    expect((await tokenInfo(join.id)).uses).toBe(1);
    const relabelled = await cp.call('PATCH', '/api/v1/nodes/fixed-1/labels', { token: operator, body: { set: { zone: 'south' } } });
    expect(relabelled).toMatchObject({ status: 200, body: { labels: { site: 'plant-a', zone: 'south' } } });
  });

  it('lets a node ask only for labels an allowed pattern matches', async () => {
    const join = await joinToken({ allowedLabels: ['site=plant-*', 'zone=*'] });
    expect((await enroll(join.token, { name: 'pattern-1', role: 'edge', labels: { site: 'plant-b', zone: 'x' } })).status).toBe(201);
    expect((await cp.admin.getNode('pattern-1')).labels).toEqual({ site: 'plant-b', zone: 'x' });
    for (const labels of [{ site: 'office' }, { gpu: 'yes' }, { site: 'plant-c', tier: 'gold' }]) {
      const refused = await enroll(join.token, { name: 'pattern-2', role: 'edge', labels });
      expect(refused.body.code, JSON.stringify(labels)).toBe('FOGLINE_ERR_JOIN_LABELS_REFUSED');
    }
    expect((await tokenInfo(join.id)).uses).toBe(1);
  });

  it('keeps a node enrolled with --require-approval pending, out of the cloud /v2, until an operator approves it', async () => {
    const join = await joinToken({ requireApproval: true });
    const enrolled = await enroll(join.token, { name: 'pending-1', role: 'edge' });
    expect(enrolled).toMatchObject({ status: 201, body: { pendingApproval: true } });
    const { nodeId, credential } = enrolled.body as { nodeId: string; credential: string };
    expect(await heartbeat(nodeId, credential)).toMatchObject({ status: 200, body: { pendingApproval: true } });
    expect((await cp.admin.getNode('pending-1')).pending).toBe(true);
    const infer = () => cp.call('POST', '/v2/models/energy/infer', { token: credential, body: { inputs: [] } });
    // The /v2 routes answer errors the Open Inference Protocol's way ({ error }).
    const refused = await infer();
    expect(refused.status).toBe(403);
    expect(refused.body.error).toContain('fogline nodes approve');
    // The desired state of a pending node gives it nothing (e2e: even with a deployment selecting it).
    const desired = await cp.call('GET', `/api/v1/nodes/${nodeId}/desired-state`, { token: credential });
    expect(desired).toMatchObject({ status: 200, body: { deployments: [] } });

    expect((await cp.call('POST', '/api/v1/nodes/pending-1/approve', { token: viewer })).status).toBe(403);
    const approved = await cp.call('POST', '/api/v1/nodes/pending-1/approve', { token: operator });
    expect(approved).toMatchObject({ status: 200, body: { name: 'pending-1', pending: false } });
    expect((await heartbeat(nodeId, credential)).body.pendingApproval).toBeUndefined();
    // Past the pending check: what is wrong now is the request (no such model, no inputs), not the caller.
    expect([400, 404]).toContain((await infer()).status);
    expect((await cp.admin.listAudit({ limit: 5 })).events[0]).toMatchObject({
      action: 'POST /api/v1/nodes/:id/approve',
      actor: { name: 'ops' },
      statusCode: 200,
    });
  });

  it('rotates a credential through heartbeats: a lost answer gets another one, the old one works until the new one is used', async () => {
    const join = await joinToken({});
    const { nodeId, credential: first } = (await enroll(join.token, { name: 'rotating', role: 'edge' })).body as {
      nodeId: string;
      credential: string;
    };
    expect((await heartbeat(nodeId, first)).body.newCredential).toBeUndefined();
    expect((await cp.call('POST', '/api/v1/nodes/rotating/rotate-credential', { token: viewer, body: {} })).status).toBe(403);
    const asked = await cp.call('POST', '/api/v1/nodes/rotating/rotate-credential', { token: operator, body: {} });
    expect(asked).toMatchObject({ status: 200, body: { credentialRotation: 'requested' } });

    const lost = (await heartbeat(nodeId, first)).body.newCredential as { credential: string };
    expect(lost.credential).toMatch(/^fgl\./);
    expect((await cp.admin.getNode('rotating')).credentialRotation).toBe('delivered');
    // The agent never saved that answer and heartbeats with its old credential: it gets another, the unused one is revoked.
    const second = (await heartbeat(nodeId, first)).body.newCredential as { credential: string };
    expect(second.credential).not.toBe(lost.credential);
    expect(await heartbeat(nodeId, lost.credential)).toMatchObject({ status: 401, body: { code: 'FOGLINE_ERR_AUTH_REVOKED' } });

    // The first heartbeat with the new credential makes it current; the old one still works for the overlap (30 s).
    expect(await heartbeat(nodeId, second.credential)).toMatchObject({ status: 200 });
    expect((await cp.admin.getNode('rotating')).credentialRotation).toBeUndefined();
    expect((await heartbeat(nodeId, first)).status).toBe(200);
    expect((await heartbeat(nodeId, first)).body.newCredential).toBeUndefined();
    const old = await tokenInfo(first.split('.')[1] as string);
    expect(Date.parse(old.expiresAt as string)).toBeGreaterThan(Date.now());
    expect(Date.parse(old.expiresAt as string)).toBeLessThanOrEqual(Date.now() + 30_000);
    const actions = (await cp.admin.listAudit({ limit: 20 })).events.map((e) => e.action);
    expect(actions.filter((a) => a.includes('handed out'))).toHaveLength(2);
    expect(actions.some((a) => a.includes('new credential in use'))).toBe(true);
  });

  it('gives the next credential a lifetime when the operator sets one', async () => {
    const join = await joinToken({});
    const { nodeId, credential } = (await enroll(join.token, { name: 'ttl-later', role: 'edge' })).body as {
      nodeId: string;
      credential: string;
    };
    const client = new ApiClient({ server: cp.url, token: operator });
    await client.rotateCredential('ttl-later', { credentialTtlSeconds: 3600 });
    const issued = (await heartbeat(nodeId, credential)).body.newCredential as { expiresAt: string };
    const lifetime = Date.parse(issued.expiresAt) - Date.now();
    expect(lifetime).toBeGreaterThan(3500_000);
    expect(lifetime).toBeLessThanOrEqual(3600_000);
    const refused = await cp.call('POST', '/api/v1/nodes/ttl-later/rotate-credential', {
      token: operator,
      body: { credentialTtlSeconds: 5 },
    });
    expect(refused.body.code).toBe('FOGLINE_ERR_REQUEST_INVALID');
    expect((await client.getNode('nope').catch((error: unknown) => error)) as Error).toMatchObject({ status: 404 });
    const view: NodeView = await client.getNode('ttl-later');
    expect(view.credentialRotation).toBe('delivered');
  });
});
