import fs from 'node:fs';
import { expect } from 'vitest';
import { ApiClient } from '../../src/client/api-client.js';
import { resolveOptions } from '../../src/config/options.js';
import { SERVER_OPTIONS } from '../../src/config/server-options.js';
import { type RunningControlPlane, startControlPlane } from '../../src/control-plane/control-plane.js';
import { readAdminToken } from '../../src/control-plane/data-dir-files.js';
import type { ServiceSettings } from '../../src/control-plane/services.js';
import type { RunView } from '../../src/contracts/runs.js';
import type { NewModelVersion } from '../../src/registry/model-registry.js';
import { eventually, tempDir } from './processes.js';

/** The vendored PJM East series (hourly load, `Datetime` and `PJME_MW` columns). */
export const PJME_TEXT = fs.readFileSync(new URL('../../data/energy/PJME_hourly_trimmed.csv', import.meta.url), 'utf8');

/** A heartbeat body for an enrolled test node: a small idle machine whose agent serves nowhere. */
export const IDLE_HEARTBEAT = {
  resources: {
    cpuCount: 2,
    loadAverage: [0, 0, 0],
    memoryTotalBytes: 4e9,
    memoryFreeBytes: 2e9,
    diskTotalBytes: 1e10,
    diskFreeBytes: 5e9,
    gpus: [],
  },
  agent: { version: '0.1.0', os: 'linux', arch: 'arm64', hostname: 'pi', inferenceUrl: 'http://127.0.0.1:9' },
};

/** A forecaster version's metadata (register it with any `bundle`): for tests that never load the bundle. */
export const FORECASTER_VERSION: Omit<NewModelVersion, 'bundle'> = {
  model: 'energy',
  framework: 'tfjs',
  kind: 'forecaster',
  ioSignature: {
    inputs: [{ name: 'history', datatype: 'FP32', shape: [-1, 168] }],
    outputs: [{ name: 'forecast', datatype: 'FP32', shape: [-1, 24] }],
  },
  metrics: {},
  lineage: { runId: 'r1', dataset: { name: 'pjme', version: 1, sha256: 'ab'.repeat(32) }, parameters: {}, codeVersion: '0.1.0' },
};

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
  /** Uploads PJM East as the next version of dataset `pjme` as `token` (the admin unless given); expects a 201. */
  uploadPjme(token?: string): Promise<void>;
  /** Starts a run (`gate: 'none'` unless `body` says otherwise) as `token`, waits for it to succeed and returns the registered version. */
  train(token: string, body: object): Promise<number>;
  close(): Promise<void>;
}

/**
 * A real control plane on loopback (SQLite unless `db` says otherwise), as `fogline server` starts
 * it; `settings` are those without a flag (ServiceSettings), such as a shorter credential overlap.
 */
export async function startTestControlPlane(
  flags: Record<string, string> = {},
  settings: Partial<ServiceSettings> = {},
): Promise<TestControlPlane> {
  const config = resolveOptions(SERVER_OPTIONS, { dataDir: tempDir('cp'), port: '0', logLevel: 'silent', ...flags }, {});
  const dataDir = config.dataDir;
  const running = await startControlPlane({ ...config, ...settings });
  // A restart on an existing data dir finds the admin token in its file.
  const adminToken = running.adminToken ?? readAdminToken(dataDir);
  if (!adminToken) throw new Error(`no admin token: neither bootstrapped nor in ${dataDir}`);
  const controlPlane: TestControlPlane = {
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
    async uploadPjme(token = adminToken) {
      const pushed = await this.call('POST', '/api/v1/datasets/pjme/versions?timeColumn=Datetime&valueColumn=PJME_MW', {
        token,
        body: PJME_TEXT,
        headers: { 'content-type': 'text/csv' },
      });
      expect(pushed.status, JSON.stringify(pushed.body)).toBe(201);
    },
    async train(token, body) {
      const started = await this.call('POST', '/api/v1/runs', { token, body: { gate: 'none', ...body } });
      expect(started.status, JSON.stringify(started.body)).toBe(201);
      const run = await eventually(async () => {
        const view = (await this.call('GET', `/api/v1/runs/${started.body.id}`, { token })).body as RunView;
        return view.status === 'succeeded' || view.status === 'failed' ? view : undefined;
      }, 180_000);
      expect(run.error).toBeNull();
      return run.registeredVersion as number;
    },
    close: () => running.stop(),
  };
  return controlPlane;
}
