import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { sessionReporter } from './session-reporter.js';

describe('sessionReporter', () => {
  const servers: ReturnType<typeof createServer>[] = [];
  afterEach(() => Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve)))));

  it('retries with the credential current at each try, so a rotation during retries is followed', async () => {
    const seen: string[] = [];
    let delivered!: () => void;
    const done = new Promise<void>((resolve) => (delivered = resolve));
    const server = createServer((request, response) => {
      seen.push(request.headers.authorization ?? '');
      request.resume();
      // The first try meets a control plane that cannot take it; the credential rotates meanwhile.
      if (seen.length === 1) {
        credential = 'fgl.node.new';
        response.writeHead(503).end();
        return;
      }
      response.writeHead(204).end();
      delivered();
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    let credential = 'fgl.node.old';
    const report = sessionReporter({
      target: () => ({ server: base, nodeId: 'n1', credential }),
      warn: () => undefined,
      baseDelayMs: 1,
    });
    report('s1', 'closed');
    await done;
    expect(seen).toEqual(['Bearer fgl.node.old', 'Bearer fgl.node.new']);
  });
});
