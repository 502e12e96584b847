/**
 * Tokens never reach the logs: a control plane and an agent at the most verbose log level, fed
 * valid and wrong tokens, a join token and node credentials, print none of their secrets (the
 * admin token is printed once, on purpose, at the first start, and is excluded from the check).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, freePort, ProcessTracker, requestJson, tempDir } from '../support/processes.js';

describe('secrets in logs', { timeout: 90_000 }, () => {
  const serverDir = tempDir('secrets-server');
  const agentDir = tempDir('secrets-agent');
  const processes = new ProcessTracker();

  afterAll(async () => {
    await processes.stopAll();
    fs.rmSync(serverDir, { recursive: true, force: true });
    fs.rmSync(agentDir, { recursive: true, force: true });
  });

  it('prints no token secret at trace level, whatever the calls', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const server = processes.start([
      'server',
      '--data-dir',
      serverDir,
      '--port',
      String(port),
      '--log-level',
      'trace',
      '--heartbeat-interval',
      '1',
    ]);
    await server.waitForOutput(/listening on/, 30_000);
    const startup = server.output();
    const admin = fs.readFileSync(path.join(serverDir, 'admin.token'), 'utf8').trim();
    const api = <T>(method: string, route: string, token: string, body?: unknown) =>
      requestJson<T>(`${url}${route}`, { method, token, body });

    const viewer = (await api<{ token: string }>('POST', '/api/v1/tokens', admin, { name: 'viewer', role: 'viewer' })).body.token;
    const join = (await api<{ token: string }>('POST', '/api/v1/tokens', admin, { name: 'join', role: 'join', maxUses: 1 })).body.token;
    const agent = processes.start([
      'agent',
      '--server',
      url,
      '--join-token',
      join,
      '--data-dir',
      agentDir,
      '--port',
      '0',
      '--log-level',
      'trace',
    ]);
    await agent.waitForOutput(/serving on/, 30_000);
    const credential = JSON.parse(fs.readFileSync(path.join(agentDir, 'node.json'), 'utf8')).credential as string;
    await eventually(async () =>
      (await api<{ nodes: { status: string }[] }>('GET', '/api/v1/nodes', viewer)).body.nodes[0]?.status === 'online' ? true : undefined,
    );

    const wrong = `${viewer.slice(0, -4)}${viewer.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    await api('GET', '/api/v1/nodes', wrong);
    await api('GET', `/api/v1/nodes?token=${viewer}`, viewer);
    await api('POST', '/api/v1/nodes/enroll', join, { name: 'again', role: 'edge' });
    await api('GET', '/api/v1/audit', admin);
    await api('GET', '/api/v1/tokens', viewer);
    // Session tokens travel in the stream's URL (?session=): the agent logs the URL, never the value.
    const session = `eyJ${randomBytes(24).toString('base64url')}.${randomBytes(32).toString('base64url')}`;
    const agentUrl = /serving on (http:\/\/\S+)/.exec(agent.output())![1]!;
    await requestJson(`${agentUrl}/v2/models/energy/stream?session=${encodeURIComponent(session)}&x=1`);
    await requestJson(`${agentUrl}/v2/models/energy/stream?x=1&session=${session}`);
    await requestJson(`${agentUrl}/v2/models/energy/infer?token=${viewer}`, { method: 'POST', body: {} });

    const secretOf = (token: string) => token.split('.').at(-1)!;
    const logs = { server: server.output().slice(startup.length), agent: agent.output() };
    for (const [name, text] of Object.entries(logs)) {
      for (const token of [admin, viewer, join, credential, wrong]) {
        expect(text.includes(secretOf(token)), `${name} log contains a token secret`).toBe(false);
      }
      expect(text.includes(session.slice(3, 30)), `${name} log contains a session token`).toBe(false);
    }
    // The requests are logged, with the value redacted.
    expect(logs.agent).toMatch(/stream\?session=\[redacted\]&x=1/);
    expect(logs.server.length).toBeGreaterThan(0);
  });
});
