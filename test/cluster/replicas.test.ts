import { afterAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/client/api-client.js';
import type { DesiredState } from '../../src/contracts/deployments.js';
import { beforeAllOrFail } from '../support/before-all-or-fail.js';
import { FORECASTER_VERSION, IDLE_HEARTBEAT } from '../support/control-plane.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { assertRedisReachable, testChannel, testRedisUrl } from '../support/redis.js';
import { type InProcessReplica, msUntil, startInProcessReplica } from '../support/replicas.js';

// Two replicas on one PostgreSQL database, their change events over Redis.
describe('control-plane replicas', () => {
  let database: TestDatabase | undefined;
  const replicas: InProcessReplica[] = [];
  let a: InProcessReplica;
  let b: InProcessReplica;
  let admin: string;

  beforeAllOrFail(async () => {
    await assertRedisReachable();
    database = await createTestDatabase('postgres');
    const channel = testChannel();
    a = await startInProcessReplica(database.url, testRedisUrl(), channel);
    replicas.push(a);
    b = await startInProcessReplica(database.url, testRedisUrl(), channel);
    replicas.push(b);
    // The first replica bootstrapped the admin token; the second found one and made none.
    admin = a.adminToken!;
    expect(b.adminToken).toBeUndefined();
    await msUntil(async () => a.services.changes.complete && b.services.changes.complete, 5000);
  }, 60_000);

  afterAll(async () => {
    for (const replica of replicas) await replica.app.close();
    await database?.drop();
  });

  it('refuses a token revoked through one replica on the other within a second', async () => {
    const made = await a.call('POST', '/api/v1/tokens', admin, { name: 'ops', role: 'operator' });
    expect(made.status).toBe(201);
    const { token, info } = made.body;
    // Replica B has looked the token up and keeps it cached (TOKEN_CACHE_MS, 5 s).
    expect((await b.call('GET', '/api/v1/nodes', token)).status).toBe(200);
    expect((await a.call('DELETE', `/api/v1/tokens/${info.id}`, admin)).status).toBe(204);
    const ms = await msUntil(async () => (await b.call('GET', '/api/v1/nodes', token)).status === 401, 1000);
    console.log(`token revoked through replica A refused by replica B after ${ms.toFixed(1)} ms`);
    expect((await b.call('GET', '/api/v1/nodes', token)).body.code).toBe('FOGLINE_ERR_AUTH_REVOKED');
  });

  it("refuses a deleted node's credential on the other replica within a second", async () => {
    const join = (await a.call('POST', '/api/v1/tokens', admin, { name: 'join', role: 'join', maxUses: 1 })).body.token;
    const node = await new ApiClient({ server: a.url }).enroll(join, { name: 'edge-gone', role: 'edge', labels: {} });
    const heartbeat = () => b.call('POST', `/api/v1/nodes/${node.nodeId}/heartbeat`, node.credential, IDLE_HEARTBEAT);
    expect((await heartbeat()).status).toBe(200);
    expect((await a.call('DELETE', `/api/v1/nodes/${node.nodeId}`, admin)).status).toBe(200);
    const ms = await msUntil(async () => (await heartbeat()).status === 401, 1000);
    console.log(`node deleted through replica A refused by replica B after ${ms.toFixed(1)} ms`);
  });

  it('answers an agent long-polling one replica when the alias moves through the other, well within 2 s', async () => {
    await a.services.models.register({ ...FORECASTER_VERSION, bundle: Buffer.from('one') });
    const second = await a.services.models.register({ ...FORECASTER_VERSION, bundle: Buffer.from('two') });
    expect((await a.call('PUT', '/api/v1/models/energy/aliases/champion', admin, { version: 1 })).status).toBe(200);
    const join = (await a.call('POST', '/api/v1/tokens', admin, { name: 'join', role: 'join', maxUses: 1 })).body.token;
    const node = await new ApiClient({ server: a.url }).enroll(join, { name: 'edge-a', role: 'edge', labels: { site: 'plant-a' } });
    expect((await a.call('POST', `/api/v1/nodes/${node.nodeId}/heartbeat`, node.credential, IDLE_HEARTBEAT)).status).toBe(200);
    const created = await a.call('POST', '/api/v1/deployments', admin, {
      name: 'energy',
      model: 'energy@champion',
      nodeSelector: { site: 'plant-a' },
      strategy: 'all',
    });
    expect(created.status).toBe(201);
    const desired = async (query = '') =>
      (await b.call('GET', `/api/v1/nodes/${node.nodeId}/desired-state${query}`, node.credential)).body as DesiredState;
    const first = await msUntil(async () => (await desired()).deployments[0]?.version === 1, 5000).then(() => desired());
    const poll = desired(`?revision=${first.revision}&waitSeconds=20`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const moved = performance.now();
    expect((await a.call('PUT', '/api/v1/models/energy/aliases/champion', admin, { version: second.version })).status).toBe(200);
    const after = await poll;
    const ms = performance.now() - moved;
    console.log(`alias moved through replica A answered a long poll on replica B after ${ms.toFixed(1)} ms`);
    expect(after.deployments[0]?.version).toBe(second.version);
    // Well under the 2 s recheck: the events woke it, not its tick.
    expect(ms).toBeLessThan(1500);
  });
});
