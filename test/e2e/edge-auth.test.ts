/**
 * Authenticated edge endpoints with real processes: a control plane and two agents serving one
 * forecaster. `edge-token` runs `--edge-auth token` with two deployments (`energy`, `other`);
 * `edge-open` runs open with a deployment (`sampled`) whose drift policy uploads samples. Over
 * real HTTP and WebSocket: no token → 401, a token for another deployment → 403, the right one →
 * 200; a revoked token is refused once the next desired state reaches the agent; streams take a
 * token; /metrics takes a --metrics token; actuals of a sampled deployment need a token even on an
 * open agent; no Authorization header, however malformed, gets a 5xx.
 */
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { CreateTokenResponse } from '../../src/contracts/tokens.js';
import { FORECAST_REQUEST, TestCluster } from '../support/cluster.js';
import { cleanFoglineEnv, eventually, runFogline, tempDir } from '../support/processes.js';

/** One call to an agent: status and the V2 error text, if any. */
async function call(url: string, options: { method?: string; token?: string; authorization?: string; body?: unknown } = {}) {
  const headers: Record<string, string> = {};
  const authorization = options.authorization ?? (options.token ? `Bearer ${options.token}` : undefined);
  if (authorization !== undefined) headers.authorization = authorization;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(url, {
    method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  return { status: response.status, text, header: response.headers.get('www-authenticate') };
}

/** Opens a stream; resolves with the first answer, or rejects with the status of a refused upgrade. */
function streamOnce(url: string, token?: string): Promise<{ outputs?: unknown[] }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
    socket.on('unexpected-response', (_request, response) => reject(new Error(`refused ${response.statusCode}`)));
    socket.on('error', reject);
    socket.on('open', () => socket.send(JSON.stringify(FORECAST_REQUEST)));
    socket.on('message', (data: Buffer) => {
      resolve(JSON.parse(data.toString()) as { outputs?: unknown[] });
      socket.close();
    });
  });
}

describe('authenticated edge endpoints (real processes)', { timeout: 240_000 }, () => {
  let cluster: TestCluster;
  let tokenAgent: string;
  let openAgent: string;
  let energyToken: CreateTokenResponse;
  let scrapeToken: string;
  let sampledToken: string;

  const createToken = async (body: object) => {
    const created = await cluster.api<CreateTokenResponse>('POST', '/api/v1/tokens', body);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    return created.body;
  };

  beforeAll(async () => {
    cluster = await TestCluster.start('edge-auth');
    await cluster.uploadPjme();
    expect(await cluster.trainForecaster({ seed: 1 })).toBe(1);
    const join = await cluster.joinToken(2);
    tokenAgent = (await cluster.startAgent('edge-token', { labels: 'site=a', joinToken: join, args: ['--edge-auth', 'token'] })).url;
    openAgent = (await cluster.startAgent('edge-open', { labels: 'site=b', joinToken: join })).url;
    await cluster.nodesOnline(2);
    for (const [name, site] of [
      ['energy', 'a'],
      ['other', 'a'],
      ['sampled', 'b'],
    ] as const) {
      const created = await cluster.api('POST', '/api/v1/deployments', { name, model: 'energy@1', nodeSelector: { site } });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
    }
    // As an admin would: fogline token create --role inference --deployment energy.
    const env = cleanFoglineEnv({ FOGLINE_SERVER: cluster.url, FOGLINE_TOKEN: cluster.adminToken });
    const created = await runFogline(
      ['token', 'create', '--role', 'inference', '--deployment', 'energy', '--name', 'energy app', '--json'],
      env,
    );
    expect(created.code, created.stderr).toBe(0);
    energyToken = JSON.parse(created.stdout) as CreateTokenResponse;
    const listed = await runFogline(['token', 'list'], env);
    expect(listed.stdout).toMatch(new RegExp(`${energyToken.info.id}\\s+energy app\\s+inference \\(energy\\)`));
    scrapeToken = (await createToken({ name: 'prometheus', role: 'inference', metrics: true })).token;
    sampledToken = (await createToken({ name: 'meter', role: 'inference', deployments: ['sampled'] })).token;
    // Serving, and the tokens arrived with the desired state.
    await eventually(async () => {
      const answer = await call(`${tokenAgent}/v2/models/energy/infer`, { token: energyToken.token, body: FORECAST_REQUEST });
      return answer.status === 200 ? true : undefined;
    }, 90_000);
    await eventually(
      async () => ((await call(`${openAgent}/v2/models/sampled/infer`, { body: FORECAST_REQUEST })).status === 200 ? true : undefined),
      90_000,
    );
  }, 300_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('token mode: 401 without a token, 403 with a token for another deployment, 200 with the right one', async () => {
    const none = await call(`${tokenAgent}/v2/models/energy/infer`, { body: FORECAST_REQUEST });
    expect(none.status).toBe(401);
    expect(none.header).toMatch(/^Bearer/);
    expect(JSON.parse(none.text).error).toMatch(/Authorization: Bearer/);
    // An API token of the control plane is no inference token: the agent does not know it.
    expect((await call(`${tokenAgent}/v2/models/energy/infer`, { token: cluster.adminToken, body: FORECAST_REQUEST })).status).toBe(401);
    const other = await call(`${tokenAgent}/v2/models/other/infer`, { token: energyToken.token, body: FORECAST_REQUEST });
    expect(other.status).toBe(403);
    expect(JSON.parse(other.text).error).toMatch(/does not cover deployment "other"/);
    const right = await call(`${tokenAgent}/v2/models/energy/infer`, { token: energyToken.token, body: FORECAST_REQUEST });
    expect(right.status).toBe(200);
    expect(JSON.parse(right.text).outputs).toHaveLength(1);
    expect((await call(`${tokenAgent}/v2/models/energy`, { token: energyToken.token })).status).toBe(200);
    // Probes need nothing.
    expect((await call(`${tokenAgent}/healthz`)).status).toBe(200);
    expect((await call(`${tokenAgent}/v2/health/ready`)).status).toBe(200);
  });

  it('token mode: streams with the token, refuses the upgrade without one', async () => {
    const answer = await streamOnce(`${tokenAgent.replace(/^http/, 'ws')}/v2/models/energy/stream`, energyToken.token);
    expect(answer.outputs).toHaveLength(1);
    await expect(streamOnce(`${tokenAgent.replace(/^http/, 'ws')}/v2/models/energy/stream`)).rejects.toThrow('refused 401');
    await expect(streamOnce(`${tokenAgent.replace(/^http/, 'ws')}/v2/models/other/stream`, energyToken.token)).rejects.toThrow(
      'refused 403',
    );
  });

  it('token mode: /metrics only with a token made for it', async () => {
    expect((await call(`${tokenAgent}/metrics`)).status).toBe(401);
    expect((await call(`${tokenAgent}/metrics`, { token: energyToken.token })).status).toBe(403);
    const scraped = await call(`${tokenAgent}/metrics`, { token: scrapeToken });
    expect(scraped.status).toBe(200);
    expect(scraped.text).toMatch(/fogline_agent_info\{[^}]*node_name="edge-token"/);
    // The open agent's metrics stay open.
    expect((await call(`${openAgent}/metrics`)).status).toBe(200);
  });

  it('fogline predict --node sends --inference-token (or FOGLINE_INFERENCE_TOKEN) to the agent', async () => {
    const dir = tempDir('edge-auth-predict');
    const input = path.join(dir, 'request.json');
    fs.writeFileSync(input, JSON.stringify(FORECAST_REQUEST));
    const env = cleanFoglineEnv({ FOGLINE_SERVER: cluster.url, FOGLINE_TOKEN: cluster.adminToken });
    const predict = ['predict', '--node', 'edge-token', '--model', 'energy', '--input', input];
    try {
      const refused = await runFogline(predict, env);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/401|Authorization: Bearer/);
      const answered = await runFogline([...predict, '--inference-token', energyToken.token], env);
      expect(answered.code, answered.stderr).toBe(0);
      expect(answered.stdout).toMatch(/^energy version 1/);
      const fromEnv = await runFogline(predict, { ...env, FOGLINE_INFERENCE_TOKEN: energyToken.token });
      expect(fromEnv.code, fromEnv.stderr).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('never answers a malformed Authorization header with a server error', async () => {
    const headerChar = fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.constant(9));
    const header = fc.oneof(
      fc.string({ unit: headerChar.map((code) => String.fromCharCode(code)), maxLength: 100 }),
      fc.string({ maxLength: 60 }).map((secret) => `Bearer fgl.${energyToken.info.id}.${secret.replace(/[^\x20-\x7e]/g, '')}`),
      fc.constantFrom('Bearer', 'bearer  ', `Basic ${energyToken.token}`, `Bearer ${energyToken.token} ${energyToken.token}`),
    );
    await fc.assert(
      fc.asyncProperty(header, fc.constantFrom('energy/infer', 'other/infer', 'sampled/actuals'), async (authorization, route) => {
        const base = route.startsWith('sampled') ? openAgent : tokenAgent;
        const { status } = await call(`${base}/v2/models/${route}`, { authorization, body: FORECAST_REQUEST });
        expect(status, `${route} with ${JSON.stringify(authorization)}`).toBeLessThan(500);
      }),
      { numRuns: 60 },
    );
    // The agent still serves.
    expect((await call(`${tokenAgent}/v2/models/energy/infer`, { token: energyToken.token, body: FORECAST_REQUEST })).status).toBe(200);
  });

  it('actuals of a deployment whose drift policy uploads samples need its token, even on an open agent', async () => {
    const actuals = { start_time: FORECAST_REQUEST.inputs[1]!.data[0], values: [30_000] };
    const url = `${openAgent}/v2/models/sampled/actuals`;
    expect((await call(url, { body: actuals })).status).toBe(200);
    const policy = await cluster.api('PUT', '/api/v1/drift/policies/sampled', { sampleUpload: true });
    expect(policy.status, JSON.stringify(policy.body)).toBe(200);
    const refused = await eventually(async () => {
      const answer = await call(url, { body: actuals });
      return answer.status === 401 ? answer : undefined;
    }, 30_000);
    expect(JSON.parse(refused.text).error).toMatch(/training data/);
    // A token for another deployment is not even sent to this node (401); the metrics one is, and does not cover it.
    expect((await call(url, { token: energyToken.token, body: actuals })).status).toBe(401);
    expect((await call(url, { token: scrapeToken, body: actuals })).status).toBe(403);
    expect((await call(url, { token: sampledToken, body: actuals })).status).toBe(200);
    // Inference itself stays open there.
    expect((await call(`${openAgent}/v2/models/sampled/infer`, { body: FORECAST_REQUEST })).status).toBe(200);
  });

  it('refuses a revoked token once the next desired state reaches the agent', async () => {
    const url = `${tokenAgent}/v2/models/energy/infer`;
    expect((await call(url, { token: energyToken.token, body: FORECAST_REQUEST })).status).toBe(200);
    expect((await cluster.api('DELETE', `/api/v1/tokens/${energyToken.info.id}`)).status).toBe(204);
    const refused = await eventually(async () => {
      const answer = await call(url, { token: energyToken.token, body: FORECAST_REQUEST });
      return answer.status === 401 ? answer : undefined;
    }, 30_000);
    expect(JSON.parse(refused.text).error).toMatch(/not one this node accepts/);
    // Other tokens still work.
    expect((await call(`${tokenAgent}/metrics`, { token: scrapeToken })).status).toBe(200);
  });
});
