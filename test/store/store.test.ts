import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/audit-log.js';
import { Authenticator } from '../../src/auth/authenticator.js';
import { TokenRepository } from '../../src/auth/token-repository.js';
import { FoglineError } from '../../src/errors/fogline-error.js';
import { Enrolment } from '../../src/nodes/enrolment.js';
import { NodeRegistry } from '../../src/nodes/node-registry.js';
import { allMigrations } from '../../src/store/migrations/index.js';
import { appliedMigrations, migrateToLatest, openStore, type Store } from '../../src/store/store.js';
import { isUniqueViolation } from '../../src/store/unique-violation.js';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/databases.js';

const HEARTBEAT = {
  resources: {
    cpuCount: 4,
    loadAverage: [0.5, 0.4, 0.3],
    memoryTotalBytes: 8 * 2 ** 30,
    memoryFreeBytes: 6 * 2 ** 30,
    diskTotalBytes: 64 * 2 ** 30,
    diskFreeBytes: 40 * 2 ** 30,
    gpus: [],
  },
  agent: { version: '0.1.0', os: 'linux', arch: 'arm64', hostname: 'pi', inferenceUrl: 'http://10.0.0.5:7071' },
};

// One suite, unchanged, for every dialect.
describe.each(DIALECTS)('store on %s', (dialect) => {
  let database: TestDatabase;
  let store: Store;
  let clock: number;
  const now = () => clock;

  beforeEach(async () => {
    database = await createTestDatabase(dialect);
    store = openStore(database.url);
    clock = Date.UTC(2026, 10, 22, 12, 0, 0);
  });

  afterEach(async () => {
    await store.close();
    await database.drop();
  });

  const services = () => {
    const tokens = new TokenRepository(store.db);
    const authenticator = new Authenticator(tokens, now);
    const nodes = new NodeRegistry(store.db, tokens, 45_000, now);
    return { tokens, authenticator, nodes, enrolment: new Enrolment(store.db, authenticator, tokens, nodes, now) };
  };

  it('applies every migration once and is a no-op the second time', async () => {
    const first = await migrateToLatest(store);
    expect(first.applied).toEqual(Object.keys(allMigrations(dialect)));
    expect((await migrateToLatest(store)).applied).toEqual([]);
    expect(await appliedMigrations(store)).toEqual(Object.keys(allMigrations(dialect)));
  });

  it('migrates an older database forward without losing its rows', async () => {
    await migrateToLatest(store, '0001-nodes-and-tokens');
    const { nodes } = services();
    // The columns 0001 made: NodeRegistry writes the later ones too.
    await store.db
      .insertInto('nodes')
      .values({ id: 'n1', name: 'old-node', role: 'edge', labels: '{"site":"a"}', cordoned: 0, enrolled_at: clock, updated_at: clock })
      .execute();
    const report = await migrateToLatest(store);
    expect(report.applied).toEqual(Object.keys(allMigrations(dialect)).slice(1));
    expect((await nodes.get('old-node')).labels).toEqual({ site: 'a' });
    await new AuditLog(store.db).record({
      actor: { id: null, name: 'x', role: 'admin' },
      action: 'POST /x',
      target: null,
      statusCode: 200,
    });
  });

  it('survives the database server closing its idle connections, and reconnects for the next query', async () => {
    await migrateToLatest(store);
    const countNodes = async () => (await store.db.selectFrom('nodes').select('id').execute()).length;
    expect(await countNodes()).toBe(0);
    // What a database restart or failover does to the pooled connections that sit idle.
    if (dialect === 'postgres') {
      await sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`.execute(
        store.db,
      );
      await sql`select pg_terminate_backend(pg_backend_pid())`.execute(store.db).catch(() => undefined);
    } else if (dialect === 'mysql') {
      await sql`kill connection connection_id()`.execute(store.db).catch(() => undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    // An unhandled 'error' from the pool would have ended this process (and failed the run).
    expect(await countNodes()).toBe(0);
  });

  describe('with the latest schema', () => {
    beforeEach(async () => {
      await migrateToLatest(store);
    });

    it('keeps times as numbers and JSON fields intact', async () => {
      const { nodes } = services();
      await nodes.insert({ id: 'n1', name: 'edge-1', role: 'edge', labels: { site: 'plant-a' } });
      expect(await nodes.recordHeartbeat('n1', HEARTBEAT)).toEqual({ found: true });
      const node = await nodes.get('n1');
      expect(node).toMatchObject({
        name: 'edge-1',
        status: 'online',
        cordoned: false,
        resources: HEARTBEAT.resources,
        agent: HEARTBEAT.agent,
      });
      expect(node.lastHeartbeatAt).toBe(new Date(clock).toISOString());
      const row = await store.db.selectFrom('nodes').select(['last_heartbeat_at', 'enrolled_at']).executeTakeFirstOrThrow();
      expect(typeof row.last_heartbeat_at).toBe('number');
      expect(row.enrolled_at).toBe(clock);
    });

    it('derives online/offline from heartbeat age', async () => {
      const { nodes } = services();
      await nodes.insert({ id: 'n1', name: 'edge-1', role: 'edge', labels: {} });
      expect((await nodes.get('edge-1')).status).toBe('offline');
      await nodes.recordHeartbeat('n1', HEARTBEAT);
      clock += 45_000;
      expect((await nodes.get('edge-1')).status).toBe('online');
      clock += 1;
      expect((await nodes.get('edge-1')).status).toBe('offline');
      expect(await nodes.recordHeartbeat('missing', HEARTBEAT)).toEqual({ found: false });
    });

    it('keeps the inference URL given at enrolment; a heartbeat sets one only where there is none, and reports another once', async () => {
      const { nodes } = services();
      await nodes.insert({ id: 'n1', name: 'edge-1', role: 'edge', labels: {}, inferenceUrl: 'http://10.0.0.5:7071' });
      await nodes.insert({ id: 'old', name: 'edge-old', role: 'edge', labels: {} });
      const moved = { ...HEARTBEAT, agent: { ...HEARTBEAT.agent, inferenceUrl: 'http://10.6.6.6:1' } };
      expect(await nodes.recordHeartbeat('n1', HEARTBEAT)).toEqual({ found: true });
      expect(await nodes.recordHeartbeat('n1', moved)).toEqual({
        found: true,
        ignoredUrl: { stored: 'http://10.0.0.5:7071', reported: 'http://10.6.6.6:1' },
      });
      // Once per new value: the next heartbeats saying the same are not reported again.
      expect(await nodes.recordHeartbeat('n1', moved)).toEqual({ found: true });
      expect(await nodes.get('n1')).toMatchObject({ inferenceUrl: 'http://10.0.0.5:7071', agent: { inferenceUrl: 'http://10.6.6.6:1' } });
      // A node enrolled by an older agent (no URL) takes its first heartbeat's http(s) URL, and keeps it.
      expect((await nodes.get('old')).inferenceUrl).toBeNull();
      await nodes.recordHeartbeat('old', { ...HEARTBEAT, agent: { ...HEARTBEAT.agent, inferenceUrl: 'file:///etc/passwd' } });
      expect((await nodes.get('old')).inferenceUrl).toBeNull();
      expect(await nodes.recordHeartbeat('old', HEARTBEAT)).toEqual({ found: true });
      expect(await nodes.recordHeartbeat('old', moved)).toMatchObject({ ignoredUrl: { stored: 'http://10.0.0.5:7071' } });
      expect((await nodes.get('old')).inferenceUrl).toBe('http://10.0.0.5:7071');
      // An operator moves it.
      expect((await nodes.setInferenceUrl('edge-old', 'http://10.0.0.9:7071')).inferenceUrl).toBe('http://10.0.0.9:7071');
      expect((await nodes.get('old')).inferenceUrl).toBe('http://10.0.0.9:7071');
    });

    it('filters by label selector, status and role', async () => {
      const { nodes } = services();
      await nodes.insert({ id: 'a', name: 'a', role: 'edge', labels: { site: 'plant-a' } });
      await nodes.insert({ id: 'b', name: 'b', role: 'edge', labels: { site: 'plant-b' } });
      await nodes.insert({ id: 'c', name: 'c', role: 'cloud', labels: { site: 'plant-a' } });
      await nodes.recordHeartbeat('a', HEARTBEAT);
      const names = async (filter: Parameters<NodeRegistry['list']>[0]) => (await nodes.list(filter)).map((n) => n.name);
      expect(await names({})).toEqual(['a', 'b', 'c']);
      expect(await names({ selector: { site: 'plant-a' } })).toEqual(['a', 'c']);
      expect(await names({ status: 'online' })).toEqual(['a']);
      expect(await names({ role: 'cloud' })).toEqual(['c']);
    });

    it('edits labels, cordons, and deletes a node together with its credentials', async () => {
      const { nodes, tokens } = services();
      await nodes.insert({ id: 'n1', name: 'edge-1', role: 'edge', labels: { site: 'a', zone: 'n' } });
      expect((await nodes.updateLabels('edge-1', { set: { site: 'b', rack: '4' }, remove: ['zone'] })).labels).toEqual({
        site: 'b',
        rack: '4',
      });
      await expect(nodes.updateLabels('edge-1', { set: { 'bad key': 'x' } })).rejects.toMatchObject({ code: 'FOGLINE_ERR_LABEL_INVALID' });
      expect((await nodes.get('n1')).labels).toEqual({ site: 'b', rack: '4' });
      expect((await nodes.setCordoned('n1', true)).cordoned).toBe(true);
      expect((await nodes.get('n1')).cordoned).toBe(true);
      const { record } = await tokens.create({ name: 'node edge-1', role: 'node', nodeId: 'n1' });
      await nodes.delete('edge-1');
      await expect(nodes.get('n1')).rejects.toMatchObject({ code: 'FOGLINE_ERR_NODE_NOT_FOUND' });
      expect((await tokens.find(record.id))?.revokedAt).toBe(clock);
    });

    it('refuses a second node with the same name at the database level too', async () => {
      const { nodes } = services();
      await nodes.insert({ id: 'n1', name: 'edge-1', role: 'edge', labels: {} });
      const error = await nodes.insert({ id: 'n2', name: 'edge-1', role: 'edge', labels: {} }).catch((e: unknown) => e);
      expect(isUniqueViolation(error)).toBe(true);
    });

    it('stores tokens hashed, lists them and revokes them', async () => {
      const { tokens, authenticator } = services();
      const { record, token } = await tokens.create({ name: 'ci', role: 'operator' });
      const rows = await store.db.selectFrom('tokens').selectAll().execute();
      expect(JSON.stringify(rows)).not.toContain(token.split('.')[2]);
      expect((await authenticator.verify(token)).role).toBe('operator');
      expect((await tokens.list()).map((t) => t.id)).toEqual([record.id]);
      expect(await tokens.revoke(record.id)).toBe(true);
      expect(await tokens.revoke(record.id)).toBe(false);
      expect(await tokens.list()).toEqual([]);
      expect((await tokens.list({ includeRevoked: true })).map((t) => t.id)).toEqual([record.id]);
      await expect(authenticator.verify(token)).rejects.toMatchObject({ code: 'FOGLINE_ERR_AUTH_REVOKED' });
    });

    it('reports expired and unknown tokens', async () => {
      const { tokens, authenticator } = services();
      const { token } = await tokens.create({ name: 'short', role: 'viewer', expiresAt: clock + 1000 });
      expect((await authenticator.verify(token)).name).toBe('short');
      clock += 1000;
      await expect(authenticator.verify(token)).rejects.toMatchObject({ code: 'FOGLINE_ERR_AUTH_EXPIRED' });
      const forged = `${token.slice(0, -4)}AAAA`;
      await expect(authenticator.verify(forged)).rejects.toMatchObject({ code: 'FOGLINE_ERR_AUTH_INVALID' });
      await expect(authenticator.verify('fgl.0000000000000000.x')).rejects.toMatchObject({ code: 'FOGLINE_ERR_AUTH_INVALID' });
    });

    it('gives the last use of a join token to exactly one of many racing enrolments', async () => {
      const { tokens } = services();
      const { record } = await tokens.create({ name: 'join', role: 'join', maxUses: 3 });
      const results = await Promise.all(Array.from({ length: 12 }, () => tokens.consumeUse(record.id, clock)));
      expect(results.filter(Boolean)).toHaveLength(3);
      expect((await tokens.find(record.id))?.uses).toBe(3);
    });

    it('enrols a node with a join token and hands out a credential for that node only', async () => {
      const { tokens, enrolment, authenticator, nodes } = services();
      const { token: join } = await tokens.create({ name: 'join', role: 'join', maxUses: 2 });
      const result = await enrolment.enroll(join, { name: 'edge-1', role: 'edge', labels: { site: 'plant-a' } });
      const principal = await authenticator.authenticate(`Bearer ${result.credential}`);
      expect(principal).toMatchObject({ role: 'node', nodeId: result.nodeId });
      expect((await nodes.get('edge-1')).labels).toEqual({ site: 'plant-a' });
    });

    it('writes nothing and uses nothing up when enrolment is refused', async () => {
      const { tokens, enrolment } = services();
      const { record, token: join } = await tokens.create({ name: 'join', role: 'join', maxUses: 2 });
      await enrolment.enroll(join, { name: 'edge-1', role: 'edge' });
      const countRows = async () => ({
        nodes: (await store.db.selectFrom('nodes').select('id').execute()).length,
        tokens: (await store.db.selectFrom('tokens').select('id').execute()).length,
        uses: (await tokens.find(record.id))?.uses,
      });
      const before = await countRows();
      await expect(enrolment.enroll(join, { name: 'edge-1', role: 'edge' })).rejects.toMatchObject({ code: 'FOGLINE_ERR_NODE_NAME_TAKEN' });
      await expect(enrolment.enroll(join, { name: 'edge-2', role: 'edge', labels: { 'bad key': 'x' } })).rejects.toMatchObject({
        code: 'FOGLINE_ERR_LABEL_INVALID',
      });
      expect(await countRows()).toEqual(before);
    });

    it('refuses used-up, expired, revoked and non-join tokens at enrolment', async () => {
      const { tokens, enrolment } = services();
      const { token: once } = await tokens.create({ name: 'once', role: 'join', maxUses: 1 });
      await enrolment.enroll(once, { name: 'a', role: 'edge' });
      await expect(enrolment.enroll(once, { name: 'b', role: 'edge' })).rejects.toMatchObject({ code: 'FOGLINE_ERR_JOIN_TOKEN_USED_UP' });
      const { token: expiring } = await tokens.create({ name: 'exp', role: 'join', expiresAt: clock + 10 });
      clock += 10;
      await expect(enrolment.enroll(expiring, { name: 'c', role: 'edge' })).rejects.toMatchObject({
        code: 'FOGLINE_ERR_JOIN_TOKEN_INVALID',
      });
      const revoked = await tokens.create({ name: 'rev', role: 'join' });
      await tokens.revoke(revoked.record.id);
      await expect(enrolment.enroll(revoked.token, { name: 'd', role: 'edge' })).rejects.toMatchObject({
        code: 'FOGLINE_ERR_JOIN_TOKEN_INVALID',
      });
      const { token: admin } = await tokens.create({ name: 'admin', role: 'admin' });
      const error = await enrolment.enroll(admin, { name: 'e', role: 'edge' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FoglineError);
      expect((error as FoglineError).code).toBe('FOGLINE_ERR_JOIN_TOKEN_INVALID');
    });

    it('keeps an audit log, newest first, paged by id', async () => {
      const audit = new AuditLog(store.db, now);
      for (let i = 0; i < 5; i++) {
        clock += 1000;
        await audit.record({
          actor: { id: 't1', name: 'admin', role: 'admin' },
          action: `POST /api/v1/x${i}`,
          target: `n${i}`,
          statusCode: 201,
        });
      }
      const page = await audit.list({ limit: 2 });
      expect(page.map((e) => e.action)).toEqual(['POST /api/v1/x4', 'POST /api/v1/x3']);
      const next = await audit.list({ limit: 10, before: page[1]?.id });
      expect(next.map((e) => e.target)).toEqual(['n2', 'n1', 'n0']);
      expect(next[0]).toMatchObject({
        actor: { id: 't1', name: 'admin', role: 'admin' },
        statusCode: 201,
        at: new Date(clock - 2000).toISOString(),
      });
    });
  });
});
