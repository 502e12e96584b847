/**
 * Graceful shutdown of `fogline server` on SQLite: SIGTERM stops accepting connections, lets the
 * requests already in flight finish, closes the database and exits 0; a restart finds everything.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditList } from '../../src/contracts/audit.js';
import type { EnrollResponse, NodeView } from '../../src/contracts/nodes.js';
import type { CreateTokenResponse, TokenList } from '../../src/contracts/tokens.js';
import {
  cleanFoglineEnv,
  ensureStopped,
  eventually,
  type FoglineProcess,
  freePort,
  requestJson,
  startFogline,
  tempDir,
  waitForExit,
} from '../support/processes.js';

/** Resolves true when a fresh connection to `url` is refused: nothing listens any more. */
async function refusesConnections(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(2000), headers: { connection: 'close' } });
    return false;
  } catch (error) {
    const code = (error as { cause?: { code?: string } }).cause?.code;
    return code === 'ECONNREFUSED' || code === 'ECONNRESET';
  }
}

/**
 * Starts a POST on its own connection and stops half-way through the body. Resolves once the
 * server has read the headers and taken the request in (it answered `100 Continue`).
 */
function startSlowRequest(url: string, token: string, body: string) {
  const target = new URL(url);
  const request = http.request({
    host: target.hostname,
    port: target.port,
    path: target.pathname,
    method: 'POST',
    agent: false,
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      expect: '100-continue',
    },
  });
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    request.once('error', reject);
    request.once('response', (incoming) => {
      let text = '';
      incoming.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      incoming.once('end', () => resolve({ status: incoming.statusCode ?? 0, body: text }));
      incoming.once('error', reject);
    });
  });
  const accepted = new Promise<void>((resolve, reject) => {
    request.once('continue', () => resolve());
    request.once('error', reject);
  });
  request.flushHeaders();
  return {
    accepted,
    response,
    finish() {
      request.end(body);
    },
  };
}

describe('server shutdown', { timeout: 60_000 }, () => {
  const dataDir = tempDir('shutdown');
  const dbFile = path.join(dataDir, 'fogline.db');
  let port: number;
  let serverUrl: string;
  let server: FoglineProcess;
  let adminToken: string;
  const created: { viewerTokenId?: string; nodeId?: string; auditCount?: number } = {};

  async function startServer(): Promise<FoglineProcess> {
    server = startFogline(['server', '--data-dir', dataDir, '--port', String(port), '--log-level', 'warn'], cleanFoglineEnv());
    await server.waitForOutput(/listening on http:\/\//, 30_000);
    return server;
  }

  const api = <T>(method: string, route: string, body?: unknown, token = adminToken) =>
    requestJson<T>(`${serverUrl}${route}`, { method, token, body });

  beforeAll(async () => {
    port = await freePort();
    serverUrl = `http://127.0.0.1:${port}`;
    await startServer();
    adminToken = fs.readFileSync(path.join(dataDir, 'admin.token'), 'utf8').trim();
  });

  afterAll(async () => {
    if (server) await ensureStopped(server);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('exits 0 promptly on SIGTERM and stops answering', async () => {
    // Something to find again after the restart.
    const viewer = await api<CreateTokenResponse>('POST', '/api/v1/tokens', { name: 'dashboard', role: 'viewer' });
    expect(viewer.status).toBe(201);
    created.viewerTokenId = viewer.body.info.id;
    const join = await api<CreateTokenResponse>('POST', '/api/v1/tokens', { name: 'join', role: 'join', maxUses: 1 });
    const enrolled = await api<EnrollResponse>('POST', '/api/v1/nodes/enroll', { name: 'kept', role: 'cloud' }, join.body.token);
    expect(enrolled.status).toBe(201);
    created.nodeId = enrolled.body.nodeId;
    expect((await api('PATCH', '/api/v1/nodes/kept/labels', { set: { site: 'plant-a' } })).status).toBe(200);
    created.auditCount = (await api<AuditList>('GET', '/api/v1/audit?limit=1000')).body.events.length;
    expect((await requestJson(`${serverUrl}/healthz`)).status).toBe(200);

    const stoppedAt = Date.now();
    server.child.kill('SIGTERM');
    expect(await waitForExit(server, 10_000)).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(10_000);
    expect(server.output()).toContain('SIGTERM: shutting down');
    expect(await refusesConnections(`${serverUrl}/healthz`)).toBe(true);
  });

  it('leaves the SQLite database closed and intact', () => {
    // A clean close checkpoints the write-ahead log into the database file and removes it.
    const wal = `${dbFile}-wal`;
    expect(!fs.existsSync(wal) || fs.statSync(wal).size === 0, 'the WAL was not checkpointed: the database was not closed').toBe(true);
    const db = new Database(dbFile, { fileMustExist: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(db.pragma('foreign_key_check')).toEqual([]);
      expect(db.prepare('select name from nodes').all()).toEqual([{ name: 'kept' }]);
    } finally {
      db.close();
    }
  });

  it('restarts on the same data: same admin token, same tokens, nodes and audit log', async () => {
    const tokenFile = fs.readFileSync(path.join(dataDir, 'admin.token'), 'utf8');
    await startServer();
    expect(server.output()).not.toMatch(/Admin token/); // shown on the very first start only
    expect(fs.readFileSync(path.join(dataDir, 'admin.token'), 'utf8')).toBe(tokenFile);
    expect(JSON.parse(fs.readFileSync(path.join(dataDir, 'server.json'), 'utf8'))).toEqual({ url: serverUrl, pid: server.child.pid });

    const tokens = await api<TokenList>('GET', '/api/v1/tokens?all=true');
    expect(tokens.status).toBe(200);
    expect(tokens.body.tokens.filter((token) => token.role === 'admin')).toHaveLength(1);
    expect(tokens.body.tokens.map((token) => token.id)).toContain(created.viewerTokenId);
    expect(tokens.body.tokens.some((token) => token.role === 'node' && token.nodeId === created.nodeId)).toBe(true);

    const node = await api<NodeView>('GET', '/api/v1/nodes/kept');
    expect(node.body).toMatchObject({ id: created.nodeId, role: 'cloud', labels: { site: 'plant-a' } });
    const audit = await api<AuditList>('GET', '/api/v1/audit?limit=1000');
    expect(audit.body.events.length).toBeGreaterThanOrEqual(created.auditCount ?? 1);
    expect((await requestJson(`${serverUrl}/readyz`)).status).toBe(200);
  });

  it('finishes a request that is in flight while it drains, and refuses new connections', async () => {
    const slow = startSlowRequest(`${serverUrl}/api/v1/tokens`, adminToken, JSON.stringify({ name: 'in flight', role: 'viewer' }));
    await slow.accepted;

    server.child.kill('SIGTERM');
    await server.waitForOutput(/SIGTERM: shutting down/, 10_000);
    // Stops accepting: a new connection is refused while the old request is still open...
    await eventually(async () => ((await refusesConnections(`${serverUrl}/healthz`)) ? true : undefined), 10_000);
    // ...and the process waits for it rather than cutting it off.
    expect(server.child.exitCode).toBeNull();

    slow.finish();
    const response = await slow.response;
    expect(response.status, response.body).toBe(201);
    const token = (JSON.parse(response.body) as CreateTokenResponse).token;
    expect(await waitForExit(server, 10_000)).toBe(0);

    // What the drained request wrote is there after a restart.
    await startServer();
    const list = await api<TokenList>('GET', '/api/v1/tokens');
    expect(list.body.tokens.map((entry) => entry.name)).toContain('in flight');
    expect((await requestJson(`${serverUrl}/api/v1/nodes`, { token })).status).toBe(200);

    // SIGINT (Ctrl-C) stops it just as cleanly.
    server.child.kill('SIGINT');
    expect(await waitForExit(server, 10_000)).toBe(0);
    expect(server.output()).toContain('SIGINT: shutting down');
  });
});
