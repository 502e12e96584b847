import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ArtifactServer {
  url: string;
  /** Every Range header received, in order ('' for none). */
  ranges: string[];
  /** Bytes per path; `cutAfter` sends only that many bytes then drops the connection (once). */
  files: Map<string, { bytes: Uint8Array; cutAfter?: number }>;
  publicKeyPem: string;
  close(): Promise<void>;
}

/**
 * A real HTTP server speaking the control plane's artifact endpoints (public key, ranged
 * download), so that download, resume and verification run over a socket in unit tests.
 */
export async function startArtifactServer(publicKeyPem: string): Promise<ArtifactServer> {
  const files = new Map<string, { bytes: Uint8Array; cutAfter?: number }>();
  const ranges: string[] = [];
  const state = { publicKeyPem };
  const server = http.createServer((request, response) => {
    if (request.url === '/api/v1/registry/public-key') {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ algorithm: 'ed25519', publicKeyPem: state.publicKeyPem }));
      return;
    }
    const file = files.get(request.url ?? '');
    if (!file) {
      response.statusCode = 404;
      response.end('{"code":"FOGLINE_ERR_ROUTE_NOT_FOUND","message":"No such route"}');
      return;
    }
    const range = request.headers.range ?? '';
    ranges.push(range);
    const from = Number(/^bytes=(\d+)-$/.exec(range)?.[1] ?? 0);
    response.statusCode = from > 0 ? 206 : 200;
    response.setHeader('content-type', 'application/octet-stream');
    const body = file.bytes.subarray(from);
    if (file.cutAfter !== undefined) {
      const cut = file.cutAfter;
      delete file.cutAfter;
      response.setHeader('content-length', body.length);
      // Give the client time to read what was sent before the connection drops.
      response.write(body.subarray(0, cut), () => setTimeout(() => response.destroy(), 100));
      return;
    }
    response.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    ranges,
    files,
    get publicKeyPem() {
      return state.publicKeyPem;
    },
    set publicKeyPem(pem: string) {
      state.publicKeyPem = pem;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
