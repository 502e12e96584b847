/**
 * Join policies, pending nodes and credential rotation against each database (migration 0016),
 * with a clock the test moves: renewal at half a credential's lifetime, expiry refused like a
 * revocation, an old credential that cannot ask for a new one, and the backfill of nodes enrolled
 * before 0016.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Authenticator } from '../../src/auth/authenticator.js';
import { TokenRepository } from '../../src/auth/token-repository.js';
import { FoglineError } from '../../src/errors/fogline-error.js';
import { CredentialRotation } from '../../src/nodes/credential-rotation.js';
import { Enrolment } from '../../src/nodes/enrolment.js';
import { NodeRegistry } from '../../src/nodes/node-registry.js';
import { migrateToLatest, openStore, type Store } from '../../src/store/store.js';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/databases.js';

const HOUR = 3_600_000;
const OVERLAP_MS = 30_000;

describe.each(DIALECTS)('join policies and credential rotation on %s', (dialect) => {
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
    // No token cache: the clock moves faster than its few seconds.
    const tokens = new TokenRepository(store.db, 0);
    const authenticator = new Authenticator(tokens, now);
    const nodes = new NodeRegistry(store.db, tokens, 45_000, now);
    return {
      tokens,
      authenticator,
      nodes,
      enrolment: new Enrolment(store.db, authenticator, tokens, nodes, now),
      rotation: new CredentialRotation(store.db, tokens, nodes, OVERLAP_MS, now),
    };
  };

  /** The token id of `fgl.<id>.<secret>`. */
  const idOf = (token: string) => token.split('.')[1] as string;

  async function refusal(run: () => Promise<unknown>): Promise<string | undefined> {
    try {
      await run();
      return undefined;
    } catch (error) {
      if (!(error instanceof FoglineError)) throw error;
      return error.code;
    }
  }

  it('enrols by the join policy: pending, fixed labels, credentials that expire; approval clears pending', async () => {
    await migrateToLatest(store);
    const { tokens, authenticator, nodes, enrolment } = services();
    const join = await tokens.create({
      name: 'j',
      role: 'join',
      joinPolicy: { nodeRole: 'edge', nodeLabels: { site: 'plant-a' }, requireApproval: true, credentialTtlSeconds: 3600 },
    });
    expect((await tokens.find(join.record.id))?.joinPolicy).toMatchObject({ nodeRole: 'edge', credentialTtlSeconds: 3600 });
    expect(await refusal(() => enrolment.enroll(join.token, { name: 'cloudy', role: 'cloud' }))).toBe('FOGLINE_ERR_JOIN_ROLE_REFUSED');
    const enrolled = await enrolment.enroll(join.token, { name: 'edge-1', role: 'edge' });
    expect(enrolled.pending).toBe(true);
    expect(await nodes.get('edge-1')).toMatchObject({ pending: true, labels: { site: 'plant-a' } });
    expect((await nodes.list()).map((n) => n.name)).toEqual(['edge-1']);
    const credential = await tokens.find(idOf(enrolled.credential));
    expect(credential).toMatchObject({ expiresAt: clock + HOUR, createdAt: clock, nodePending: true });
    expect((await authenticator.authenticate(`Bearer ${enrolled.credential}`)).pendingApproval).toBe(true);
    expect((await nodes.approve('edge-1')).pending).toBe(false);
    expect((await nodes.get('edge-1')).pending).toBe(false);
    expect((await authenticator.authenticate(`Bearer ${enrolled.credential}`)).pendingApproval).toBeUndefined();
  });

  it('renews a credential at half its lifetime; the old one expires after the overlap, refused like a revoked one', async () => {
    await migrateToLatest(store);
    const { tokens, authenticator, enrolment, rotation } = services();
    const join = await tokens.create({ name: 'j', role: 'join', joinPolicy: { credentialTtlSeconds: 3600 } });
    const { nodeId, credential: first } = await enrolment.enroll(join.token, { name: 'edge-1', role: 'edge' });

    clock += HOUR / 2 - 1000;
    expect(await rotation.onHeartbeat(nodeId, idOf(first))).toBeUndefined();
    clock += 1000;
    const step = await rotation.onHeartbeat(nodeId, idOf(first));
    if (!step || !('issued' in step)) throw new Error(`no new credential at half-life: ${JSON.stringify(step)}`);
    const second = step.issued.credential;
    expect(step.issued.expiresAt).toBe(new Date(clock + HOUR).toISOString());

    clock += 1000;
    expect(await rotation.onHeartbeat(nodeId, idOf(second))).toEqual({ retired: idOf(first) });
    expect((await tokens.find(idOf(first)))?.expiresAt).toBe(clock + OVERLAP_MS);
    await authenticator.verify(first);
    clock += OVERLAP_MS;
    expect(await refusal(() => authenticator.verify(first))).toBe('FOGLINE_ERR_AUTH_EXPIRED');
    await authenticator.verify(second);
    // Without a heartbeat to renew it, a credential dies at the end of its lifetime.
    clock += HOUR;
    expect(await refusal(() => authenticator.verify(second))).toBe('FOGLINE_ERR_AUTH_EXPIRED');
  });

  it('hands a new credential only to the current one, never to an old one still in its overlap', async () => {
    await migrateToLatest(store);
    const { tokens, nodes, enrolment, rotation } = services();
    const join = await tokens.create({ name: 'j', role: 'join' });
    const { nodeId, credential: first } = await enrolment.enroll(join.token, { name: 'edge-1', role: 'edge' });
    expect(await rotation.onHeartbeat(nodeId, idOf(first))).toBeUndefined();
    expect((await rotation.request('edge-1')).credentialRotation).toBe('requested');
    const step = await rotation.onHeartbeat(nodeId, idOf(first));
    if (!step || !('issued' in step)) throw new Error('no new credential');
    expect(step.issued.expiresAt).toBeNull();
    expect((await nodes.get('edge-1')).credentialRotation).toBe('delivered');
    await rotation.onHeartbeat(nodeId, step.issued.id);
    expect((await nodes.get('edge-1')).credentialRotation).toBeUndefined();

    await rotation.request('edge-1');
    // Someone with the old credential, heartbeating during its overlap, gets nothing.
    expect(await rotation.onHeartbeat(nodeId, idOf(first))).toBeUndefined();
    const next = await rotation.onHeartbeat(nodeId, step.issued.id);
    expect(next && 'issued' in next).toBe(true);
  });

  it('takes the live credential of a node enrolled before 0016 as its current one', async () => {
    await migrateToLatest(store, '0015-node-inference-url');
    await store.db
      .insertInto('nodes')
      .values({ id: 'n1', name: 'old', role: 'edge', labels: '{}', cordoned: 0, enrolled_at: clock, updated_at: clock })
      .execute();
    const token = { name: 'node old', secret_hash: 'x'.repeat(64), node_id: 'n1', uses: 0, created_at: clock };
    await store.db
      .insertInto('tokens')
      .values([
        { ...token, id: 'aaaaaaaaaaaaaaaa', role: 'node', revoked_at: clock },
        { ...token, id: 'bbbbbbbbbbbbbbbb', role: 'node' },
      ])
      .execute();
    await migrateToLatest(store);
    const row = await store.db.selectFrom('nodes').select(['credential_id', 'pending', 'rotate_credential']).executeTakeFirstOrThrow();
    expect(row).toEqual({ credential_id: 'bbbbbbbbbbbbbbbb', pending: 0, rotate_credential: 0 });
    expect((await services().nodes.get('old')).pending).toBe(false);
  });
});
