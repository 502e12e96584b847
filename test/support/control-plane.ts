import { ApiClient } from '../../src/client/api-client.js';
import { resolveOptions } from '../../src/config/options.js';
import { SERVER_OPTIONS } from '../../src/config/server-options.js';
import { type RunningControlPlane, startControlPlane } from '../../src/control-plane/control-plane.js';
import { readAdminToken } from '../../src/control-plane/data-dir-files.js';
import { tempDir } from './processes.js';

export interface TestControlPlane {
  running: RunningControlPlane;
  url: string;
  adminToken: string;
  admin: ApiClient;
  dataDir: string;
  /** A raw HTTP call, for cases the typed client cannot express (bad JSON, odd headers). */
  call(
    method: string,
    path: string,
    options?: { token?: string; body?: string | object; headers?: Record<string, string> },
  ): Promise<{ status: number; body: any; headers: Headers }>;
  close(): Promise<void>;
}

/** A real control plane on loopback (SQLite unless `db` says otherwise), as `fogline server` starts it. */
export async function startTestControlPlane(flags: Record<string, string> = {}): Promise<TestControlPlane> {
  const config = resolveOptions(SERVER_OPTIONS, { dataDir: tempDir('cp'), port: '0', logLevel: 'silent', ...flags }, {});
  const dataDir = config.dataDir;
  const running = await startControlPlane(config);
  // A restart on an existing data dir finds the admin token in its file.
  const adminToken = running.adminToken ?? readAdminToken(dataDir);
  if (!adminToken) throw new Error(`no admin token: neither bootstrapped nor in ${dataDir}`);
  return {
    running,
    url: running.url,
    adminToken,
    admin: new ApiClient({ server: running.url, token: adminToken }),
    dataDir,
    async call(method, path, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      let body: string | undefined;
      if (options.body !== undefined) {
        body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
        headers['content-type'] ??= 'application/json';
      }
      const response = await fetch(`${running.url}${path}`, { method, headers, body });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = text === '' ? undefined : JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      return { status: response.status, body: parsed, headers: response.headers };
    },
    close: () => running.stop(),
  };
}
