/**
 * HTTPS end to end: the control plane and an agent serve HTTPS with given certificates; the agent
 * and the CLI trust only the CA passed with --ca (pinning): a control plane whose certificate
 * does not chain to it is refused, with a message that says what to pass. An agent with
 * --edge-auth mtls refuses, in the TLS handshake, clients without a certificate of its --client-ca.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCertificates, type TestCertificates } from '../support/certificates.js';
import { cleanFoglineEnv, eventually, freePort, ProcessTracker, runFogline, tempDir } from '../support/processes.js';

/** GET `url` over HTTPS trusting `ca`, presenting a client certificate when given one. */
async function getWithClientCertificate(url: string, ca: string, client?: { cert: string; key: string }): Promise<number> {
  const read = (file: string) => fs.readFileSync(file);
  const dispatcher = new Agent({ connect: { ca: read(ca), ...(client ? { cert: read(client.cert), key: read(client.key) } : {}) } });
  try {
    const response = await request(url, { dispatcher, signal: AbortSignal.timeout(10_000) });
    await response.body.dump();
    return response.statusCode;
  } finally {
    await dispatcher.close();
  }
}

describe('HTTPS with given certificates and a pinned CA', { timeout: 120_000 }, () => {
  const dir = tempDir('tls');
  const processes = new ProcessTracker();
  let pki: TestCertificates;
  let other: TestCertificates;
  let url: string;
  let admin: string;

  beforeAll(async () => {
    pki = makeCertificates(dir, 'fogline');
    other = makeCertificates(dir, 'stranger');
    const port = await freePort();
    const server = processes.start([
      ...['server', '--data-dir', path.join(dir, 'server'), '--port', String(port), '--log-level', 'warn'],
      ...['--tls-cert', pki.cert, '--tls-key', pki.key, '--heartbeat-interval', '1'],
    ]);
    const [, listening] = await server.waitForOutput(/listening on (\S+)/, 30_000);
    url = `https://127.0.0.1:${port}`;
    expect(listening).toBe(url);
    admin = fs.readFileSync(path.join(dir, 'server', 'admin.token'), 'utf8').trim();
  });

  afterAll(async () => {
    await processes.stopAll();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const cli = (args: string[], env: Record<string, string> = {}) =>
    runFogline(args, cleanFoglineEnv({ FOGLINE_SERVER: url, FOGLINE_TOKEN: admin, ...env }));

  it('serves the API over HTTPS to a CLI that trusts its CA, and tells one that does not what to pass', async () => {
    const trusted = await cli(['nodes', 'list', '--ca', pki.ca]);
    expect(trusted.code, trusted.stderr).toBe(0);
    const untrusted = await cli(['nodes', 'list']);
    expect(untrusted.code).not.toBe(0);
    expect(untrusted.stderr).toMatch(/certificate this client does not trust .*pass its CA with --ca/);
    const pinnedElsewhere = await cli(['nodes', 'list'], { FOGLINE_CA: other.ca });
    expect(pinnedElsewhere.code).not.toBe(0);
  });

  it('enrols an agent that pins the CA, which serves HTTPS itself; refuses to enrol against another CA', async () => {
    const join = await cli(['token', 'create', '--role', 'join', '--name', 'edge', '--max-uses', '2', '--json', '--ca', pki.ca]);
    expect(join.code, join.stderr).toBe(0);
    const joinToken = (JSON.parse(join.stdout) as { token: string }).token;

    const refused = processes.start([
      ...['agent', '--server', url, '--join-token', joinToken, '--name', 'edge-x', '--data-dir', path.join(dir, 'agent-x')],
      ...['--port', '0', '--ca', other.ca, '--log-level', 'warn'],
    ]);
    // It keeps retrying (a certificate can be replaced), saying why it cannot enrol.
    await refused.waitForOutput(/certificate this client does not trust .*--ca/, 30_000);
    expect(refused.output()).not.toMatch(/serving on/);

    const agent = processes.start([
      ...['agent', '--server', url, '--join-token', joinToken, '--name', 'edge-1', '--data-dir', path.join(dir, 'agent')],
      ...['--port', '0', '--ca', pki.ca, '--tls-cert', pki.cert, '--tls-key', pki.key, '--log-level', 'warn'],
    ]);
    const [, agentUrl] = await agent.waitForOutput(/serving on (\S+)/, 30_000);
    expect(agentUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const online = await eventually(async () => {
      const list = await cli(['nodes', 'list', '--json', '--ca', pki.ca]);
      const nodes = JSON.parse(list.stdout || '[]') as { name: string; status: string }[];
      return nodes.find((n) => n.name === 'edge-1' && n.status === 'online');
    }, 30_000);
    expect(online).toBeDefined();
  });

  it('an agent with --edge-auth mtls refuses clients without a certificate of its --client-ca during the handshake', async () => {
    const clients = makeCertificates(dir, 'clients');
    const join = await cli(['token', 'create', '--role', 'join', '--name', 'mtls', '--json', '--ca', pki.ca]);
    const joinToken = (JSON.parse(join.stdout) as { token: string }).token;
    const agentArgs = (name: string) => [
      ...['agent', '--server', url, '--join-token', joinToken, '--name', name, '--data-dir', path.join(dir, name)],
      ...['--port', '0', '--ca', pki.ca, '--tls-cert', pki.cert, '--tls-key', pki.key, '--log-level', 'warn', '--edge-auth', 'mtls'],
    ];
    // Without --client-ca there is nothing to check client certificates against: refused at start.
    const misconfigured = await runFogline(agentArgs('edge-bad'), cleanFoglineEnv());
    expect(misconfigured.code).not.toBe(0);
    expect(misconfigured.stderr).toMatch(/--edge-auth mtls needs --client-ca/);

    const agent = processes.start([...agentArgs('edge-mtls'), '--client-ca', clients.ca]);
    const [, agentUrl] = await agent.waitForOutput(/serving on (\S+)/, 30_000);
    // No certificate, or one of another CA: the handshake fails, no HTTP status at all.
    await expect(getWithClientCertificate(`${agentUrl}/metrics`, pki.ca)).rejects.toThrow();
    await expect(getWithClientCertificate(`${agentUrl}/healthz`, pki.ca, { cert: other.cert, key: other.key })).rejects.toThrow();
    // A certificate of the client CA: served.
    expect(await getWithClientCertificate(`${agentUrl}/metrics`, pki.ca, clients)).toBe(200);
    expect(await getWithClientCertificate(`${agentUrl}/healthz`, pki.ca, clients)).toBe(200);
    expect(await getWithClientCertificate(`${agentUrl}/v2/models/energy/ready`, pki.ca, clients)).toBe(404);
  });
});
