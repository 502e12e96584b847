import { afterAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/client/api-client.js';
import { announceChanges } from '../../src/cluster/change-wiring.js';
import { RedisChangeBus } from '../../src/cluster/redis-change-bus.js';
import { resolveOptions } from '../../src/config/options.js';
import { SERVER_OPTIONS } from '../../src/config/server-options.js';
import type { DesiredState } from '../../src/contracts/deployments.js';
import { bootstrapAdminToken } from '../../src/control-plane/admin-bootstrap.js';
import { buildControlPlaneApp, type ControlPlaneApp } from '../../src/control-plane/app.js';
import { createServices, type Services } from '../../src/control-plane/services.js';
import type { NewModelVersion } from '../../src/registry/model-registry.js';
import { migrateToLatest, openStore } from '../../src/store/store.js';
import { beforeAllOrFail } from '../support/before-all-or-fail.js';
import { IDLE_HEARTBEAT } from '../support/control-plane.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { tempDir } from '../support/processes.js';
import { assertRedisReachable, testChannel, testRedisUrl } from '../support/redis.js';

interface Replica {
  app: ControlPlaneApp;
  services: Services;
  url: string;
  /** Set on the replica that bootstrapped the admin token. */
  adminToken: string | undefined;
  call(method: string, path: string, token: string, body?: object): Promise<{ status: number; body: any }>;
}

/** A control plane on `db`, as `fogline server --db <db> --redis <test Redis>` starts one; its events go on `channel`. */
async function startReplica(db: string, channel: string): Promise<Replica> {
  const config = resolveOptions(SERVER_OPTIONS, { dataDir: tempDir('replica'), port: '0', logLevel: 'silent', db }, {});
  const store = openStore(db);
  await migrateToLatest(store);
  const services = createServices(store, config);
  // What --redis wires: the replicas' events over Redis (a channel of this test's own).
  services.changes.connect(new RedisChangeBus(testRedisUrl(), channel));
  announceChanges(services.changes, services);
  const adminToken = await bootstrapAdminToken(services.tokens, config.dataDir);
  const app = await buildControlPlaneApp(services, { bodyLimitBytes: config.bodyLimitBytes, logger: false });
  app.addHook('onClose', async () => {
    await services.runs.stop();
    await services.inference.close();
    await store.close();
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return {
    app,
    services,
    url,
    adminToken,
    async call(method, path, token, body) {
      const response = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await response.text();
      return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
    },
  };
}

const VERSION: Omit<NewModelVersion, 'bundle'> = {
  model: 'energy',
  framework: 'tfjs',
  kind: 'forecaster',
  ioSignature: {
    inputs: [{ name: 'history', datatype: 'FP32', shape: [-1, 168] }],
    outputs: [{ name: 'forecast', datatype: 'FP32', shape: [-1, 24] }],
  },
  metrics: {},
  lineage: { runId: 'r1', dataset: { name: 'pjme', version: 1, sha256: 'ab'.repeat(32) }, parameters: {}, codeVersion: '0.1.0' },
};

/** Calls `check` every 10 ms until it is true; how long that took, in ms. */
async function msUntil(check: () => Promise<boolean>, limitMs: number): Promise<number> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > limitMs) throw new Error(`not within ${limitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return performance.now() - started;
}

// Two replicas on one PostgreSQL database, their change events over Redis.
describe('control-plane replicas', () => {
  let database: TestDatabase | undefined;
  const replicas: Replica[] = [];
  let a: Replica;
  let b: Replica;
  let admin: string;

  beforeAllOrFail(async () => {
    await assertRedisReachable();
    database = await createTestDatabase('postgres');
    const channel = testChannel();
    a = await startReplica(database.url, channel);
    replicas.push(a);
    b = await startReplica(database.url, channel);
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
    await a.services.models.register({ ...VERSION, bundle: Buffer.from('one') });
    const second = await a.services.models.register({ ...VERSION, bundle: Buffer.from('two') });
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
