import fc from 'fast-check';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { generateToken, hashSecret } from '../../auth/token-secret.js';
import type { DesiredDeployment } from '../../contracts/deployments.js';
import type { EdgeAuthMode, EdgeToken } from '../../contracts/edge-access.js';
import { toErrorBody } from '../../http/error-handler.js';
import { EdgeGuard } from './edge-guard.js';

const energy = generateToken();
const scrape = generateToken();
const expired = generateToken();
const TOKENS: EdgeToken[] = [
  { id: energy.id, sha256: hashSecret(energy.secret), deployments: ['energy'], metrics: false, expiresAt: null },
  { id: scrape.id, sha256: hashSecret(scrape.secret), deployments: [], metrics: true, expiresAt: null },
  { id: expired.id, sha256: hashSecret(expired.secret), deployments: ['energy'], metrics: false, expiresAt: '2001-01-01T00:00:00Z' },
];
const deployment = (name: string, sampleUpload?: boolean) => ({ name, ...(sampleUpload ? { sampleUpload } : {}) }) as DesiredDeployment;

/** The agent's routes as the guard sees them: each answers 200 once past it. */
async function agentLike(mode: EdgeAuthMode, sampleUpload = false): Promise<FastifyInstance> {
  const app = Fastify();
  const guard = new EdgeGuard(mode);
  guard.install(app);
  guard.update({ deployments: [deployment('energy', sampleUpload), deployment('other')], edgeTokens: TOKENS });
  await app.register(async (v2) => {
    // As src/inference/v2-routes.ts answers errors: {"error": "…"}.
    v2.setErrorHandler((error: Error, _request, reply) => {
      const { status, body } = toErrorBody(error);
      return reply.status(status).send({ error: body.message, code: body.code });
    });
    for (const url of ['/v2/models/:name/infer', '/v2/models/:name/actuals', '/v2/models/:name/versions/:version/infer'])
      v2.post(url, async () => ({ ok: true }));
    v2.get('/v2/models/:name/stream', async () => ({ ok: true }));
    v2.get('/v2/models/:name', async () => ({ ok: true }));
    v2.get('/v2/health/ready', async () => ({ ready: true }));
  });
  app.get('/metrics', async () => 'metrics');
  app.get('/healthz', async () => ({ status: 'ok' }));
  return app;
}

const call = (app: FastifyInstance, method: 'GET' | 'POST', url: string, token?: string) =>
  app.inject({
    method,
    url,
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    payload: method === 'POST' ? {} : undefined,
  });

describe('EdgeGuard', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
  });

  it('token: 401 without a token or with an unknown, wrong or expired one, 403 for another deployment, through with the right one', async () => {
    app = await agentLike('token');
    const none = await call(app, 'POST', '/v2/models/energy/infer');
    expect([none.statusCode, none.json().code]).toEqual([401, 'FOGLINE_ERR_AUTH_MISSING']);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer /);
    expect((await call(app, 'POST', '/v2/models/energy/infer', generateToken().token)).json().code).toBe('FOGLINE_ERR_AUTH_INVALID');
    expect((await call(app, 'POST', '/v2/models/energy/infer', `fgl.${energy.id}.${scrape.secret}`)).statusCode).toBe(401);
    expect((await call(app, 'POST', '/v2/models/energy/infer', expired.token)).json().code).toBe('FOGLINE_ERR_AUTH_EXPIRED');
    const other = await call(app, 'POST', '/v2/models/other/infer', energy.token);
    expect([other.statusCode, other.json().code]).toEqual([403, 'FOGLINE_ERR_AUTH_SCOPE']);
    for (const url of ['/v2/models/energy/infer', '/v2/models/energy/versions/3/infer', '/v2/models/energy/actuals'])
      expect((await call(app, 'POST', url, energy.token)).statusCode, url).toBe(200);
    expect((await call(app, 'GET', '/v2/models/energy', energy.token)).statusCode).toBe(200);
  });

  it('token: /metrics takes a token made for it; health and readiness stay open', async () => {
    app = await agentLike('token');
    expect((await call(app, 'GET', '/metrics')).statusCode).toBe(401);
    expect((await call(app, 'GET', '/metrics', energy.token)).statusCode).toBe(403);
    expect((await call(app, 'GET', '/metrics', scrape.token)).statusCode).toBe(200);
    expect((await call(app, 'GET', '/v2/models/energy', scrape.token)).statusCode).toBe(403);
    expect((await call(app, 'GET', '/healthz')).statusCode).toBe(200);
    expect((await call(app, 'GET', '/v2/health/ready')).statusCode).toBe(200);
  });

  it('token: a stream with ?session= is left to the session check; one without needs a token', async () => {
    app = await agentLike('token');
    expect((await call(app, 'GET', '/v2/models/energy/stream?session=abc')).statusCode).toBe(200);
    expect((await call(app, 'GET', '/v2/models/energy/stream')).statusCode).toBe(401);
    expect((await call(app, 'GET', '/v2/models/energy/stream', energy.token)).statusCode).toBe(200);
  });

  it('open and mtls: everything passes, but actuals of a deployment that uploads samples need its token', async () => {
    for (const mode of ['open', 'mtls'] as const) {
      app = await agentLike(mode, true);
      expect((await call(app, 'POST', '/v2/models/energy/infer')).statusCode).toBe(200);
      expect((await call(app, 'GET', '/metrics')).statusCode).toBe(200);
      expect((await call(app, 'POST', '/v2/models/other/actuals')).statusCode).toBe(200);
      const refused = await call(app, 'POST', '/v2/models/energy/actuals');
      expect([refused.statusCode, refused.json().code]).toEqual([401, 'FOGLINE_ERR_AUTH_MISSING']);
      expect(refused.json().error).toMatch(/training data/);
      expect((await call(app, 'POST', '/v2/models/energy/actuals', scrape.token)).statusCode).toBe(403);
      expect((await call(app, 'POST', '/v2/models/energy/actuals', energy.token)).statusCode).toBe(200);
      await app.close();
    }
    app = undefined;
  });

  it('forgets a token the next desired state leaves out, and ignores entries that do not parse', async () => {
    app = Fastify();
    const guard = new EdgeGuard('token');
    guard.install(app);
    app.get('/v2/models/:name', async () => ({ ok: true }));
    guard.update({ deployments: [deployment('energy')], edgeTokens: TOKENS });
    expect((await call(app, 'GET', '/v2/models/energy', energy.token)).statusCode).toBe(200);
    guard.update({ deployments: [deployment('energy')], edgeTokens: [{ ...TOKENS[0]!, sha256: 'nothex' }] });
    expect((await call(app, 'GET', '/v2/models/energy', energy.token)).statusCode).toBe(401);
    guard.update({ deployments: [deployment('energy')] });
    expect((await call(app, 'GET', '/v2/models/energy', energy.token)).statusCode).toBe(401);
  });

  it('answers any Authorization header with 200, 401 or 403, never a server error', async () => {
    app = await agentLike('token', true);
    const target = app;
    // Header values as HTTP allows them: tab, visible ASCII and Latin-1; no CR, LF, NUL or DEL.
    const headerChar = fc.oneof(fc.constant(9), fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff }));
    const headerText = fc.string({ unit: headerChar.map((code) => String.fromCharCode(code)), maxLength: 120 });
    const header = fc.oneof(
      headerText,
      fc.constantFrom(
        'Bearer',
        'Bearer ',
        'bearer fgl..',
        `Bearer ${energy.token} extra`,
        `Basic ${energy.token}`,
        `Bearer  ${energy.token}`,
      ),
      fc
        .tuple(fc.constantFrom(energy.id, '0000000000000000'), fc.string({ maxLength: 50 }))
        .map(([id, secret]) => `Bearer fgl.${id}.${secret}`),
    );
    await fc.assert(
      fc.asyncProperty(header, fc.constantFrom('/v2/models/energy/infer', '/v2/models/energy/actuals', '/metrics'), async (value, url) => {
        const answer = await target.inject({
          method: url === '/metrics' ? 'GET' : 'POST',
          url,
          headers: { authorization: value },
          payload: {},
        });
        expect([200, 401, 403]).toContain(answer.statusCode);
      }),
      { numRuns: 300 },
    );
  });
});
