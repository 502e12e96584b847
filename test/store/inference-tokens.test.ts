import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InferenceTokens } from '../../src/auth/inference-tokens.js';
import { TokenRepository } from '../../src/auth/token-repository.js';
import { hashSecret, parseToken } from '../../src/auth/token-secret.js';
import { DIALECTS, type MigratedTestStore, migratedTestStore } from '../support/databases.js';

// Inference tokens' scopes (migration 0017) as each database keeps them.
describe.each(DIALECTS)('inference token scopes on %s', (dialect) => {
  let database: MigratedTestStore;
  let tokens: TokenRepository;
  let scopes: InferenceTokens;

  beforeEach(async () => {
    database = await migratedTestStore(dialect);
    tokens = new TokenRepository(database.store.db, 0);
    scopes = new InferenceTokens(database.store.db);
  });

  afterEach(async () => {
    await database.close();
  });

  const create = async (name: string, scope: { deployments: string[]; metrics: boolean }, expiresAt: number | null = null) =>
    database.store.db.transaction().execute(async (trx) => {
      const created = await tokens.create({ name, role: 'inference', expiresAt }, trx);
      await scopes.setScopes(created.record.id, scope, trx);
      return created;
    });

  it('lists the active inference tokens with their scopes and secret hashes; not revoked, expired or other tokens', async () => {
    const now = Date.now();
    const app = await create('app', { deployments: ['other', 'energy', 'energy'], metrics: false }, now + 3_600_000);
    const scrape = await create('scrape', { deployments: [], metrics: true });
    const revoked = await create('revoked', { deployments: ['energy'], metrics: true });
    await tokens.revoke(revoked.record.id);
    await create('expired', { deployments: ['energy'], metrics: false }, now - 1);
    await tokens.create({ name: 'viewer', role: 'viewer' });

    const active = await scopes.active(now);
    expect(active.map((grant) => grant.id).sort()).toEqual([app.record.id, scrape.record.id].sort());
    expect(active.find((grant) => grant.id === app.record.id)).toEqual({
      id: app.record.id,
      secretHash: hashSecret(parseToken(app.token)!.secret),
      deployments: ['energy', 'other'],
      metrics: false,
      expiresAt: now + 3_600_000,
    });
    expect(active.find((grant) => grant.id === scrape.record.id)).toMatchObject({ deployments: [], metrics: true, expiresAt: null });
    const listed = await scopes.scopesOf([app.record.id, scrape.record.id, 'nosuchtoken00000']);
    expect(listed.get(app.record.id)).toEqual({ deployments: ['energy', 'other'], metrics: false });
    expect(listed.has('nosuchtoken00000')).toBe(false);
  });
});
