/**
 * Deployments end to end, with real processes: a control plane on SQLite trains forecasters on
 * the vendored PJM series, a `fogline agent` at site=plant-a gets them through its desired state
 * and serves them on the Open Inference Protocol. Steps run in order and share one cluster.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeploymentView } from '../../src/contracts/deployments.js';
import type { ModelVersionView } from '../../src/contracts/models.js';
import type { RunView } from '../../src/contracts/runs.js';
import { parseTimeSeriesCsv } from '../../src/ml/timeseries/ingest.js';
import { findFile } from '../support/files.js';
import { eventually, type FoglineProcess, freePort, requestJson, stopProcess, tempDir, ProcessTracker } from '../support/processes.js';

const PJME_TEXT = fs.readFileSync(fileURLToPath(new URL('../../data/energy/PJME_hourly_trimmed.csv', import.meta.url)), 'utf8');
const series = parseTimeSeriesCsv(PJME_TEXT, { timeColumn: 'Datetime', valueColumn: 'PJME_MW' });
const WINDOW = 168;
/** The last week of the series and the hour after it: a real request. */
const REQUEST = {
  inputs: [
    { name: 'history', shape: [1, WINDOW], datatype: 'FP32', data: Array.from(series.values.subarray(series.values.length - WINDOW)) },
    { name: 'start_time', shape: [1], datatype: 'INT64', data: [series.start + series.values.length * series.intervalSeconds] },
  ],
};

describe('deployments (real processes)', { timeout: 120_000 }, () => {
  const serverDir = tempDir('deploy-server');
  const agentDir = tempDir('deploy-agent');
  const processes = new ProcessTracker();
  let port: number;
  let serverUrl: string;
  let adminToken: string;
  let server: FoglineProcess;
  let agent: FoglineProcess;
  let agentUrl: string;
  let joinToken: string;

  const start = (args: string[]): FoglineProcess => processes.start(args);

  async function startServer(): Promise<FoglineProcess> {
    const proc = start(['server', '--data-dir', serverDir, '--port', String(port), '--heartbeat-interval', '1', '--log-level', 'warn']);
    await proc.waitForOutput(/listening on (http:\/\/\S+)/, 30_000);
    return proc;
  }

  async function startAgent(): Promise<FoglineProcess> {
    const args = ['agent', '--server', serverUrl, '--name', 'edge-a', '--labels', 'site=plant-a', '--data-dir', agentDir];
    args.push('--port', '0', '--log-level', 'warn');
    if (joinToken) args.push('--join-token', joinToken);
    const proc = start(args);
    const [, url] = await proc.waitForOutput(/serving on (http:\/\/\S+)/, 30_000);
    agentUrl = url!;
    return proc;
  }

  const api = <T>(method: string, route: string, body?: unknown) =>
    requestJson<T>(`${serverUrl}${route}`, { method, token: adminToken, body, timeoutMs: 30_000 });

  /** One V2 infer call on the agent; resolves with the version that answered, throws on any failure. */
  async function inferOnAgent(): Promise<string> {
    const { status, body } = await requestJson<{ model_version: string; outputs: { data: number[] }[] }>(
      `${agentUrl}/v2/models/energy/infer`,
      { method: 'POST', body: REQUEST, timeoutMs: 10_000 },
    );
    if (status !== 200) throw new Error(`infer answered ${status}: ${JSON.stringify(body)}`);
    expect(body.outputs[0]?.data).toHaveLength(24);
    return body.model_version;
  }

  async function trainVersion(seed: number): Promise<number> {
    const started = await api<RunView>('POST', '/api/v1/runs', {
      pipeline: 'forecast',
      dataset: 'pjme',
      model: 'energy',
      gate: 'none',
      params: { epochs: 2, hidden: [32], seed },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    const run = await eventually(async () => {
      const view = (await api<RunView>('GET', `/api/v1/runs/${started.body.id}`)).body;
      return view.status === 'succeeded' || view.status === 'failed' ? view : undefined;
    }, 120_000);
    expect(run.error).toBeNull();
    return run.registeredVersion as number;
  }

  async function nodeState(): Promise<DeploymentView['nodes'][number] | undefined> {
    return (await api<DeploymentView>('GET', '/api/v1/deployments/energy')).body.nodes[0];
  }

  beforeAll(async () => {
    port = await freePort();
    serverUrl = `http://127.0.0.1:${port}`;
    server = await startServer();
    adminToken = fs.readFileSync(path.join(serverDir, 'admin.token'), 'utf8').trim();
    const upload = await fetch(`${serverUrl}/api/v1/datasets/pjme/versions?timeColumn=Datetime&valueColumn=PJME_MW`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'text/csv' },
      body: PJME_TEXT,
    });
    expect(upload.status).toBe(201);
    expect(await trainVersion(1)).toBe(1);
    expect(await trainVersion(2)).toBe(2);
    expect(await trainVersion(3)).toBe(3);
    expect((await api('PUT', '/api/v1/models/energy/aliases/champion', { version: 1 })).status).toBe(200);
    joinToken = (await api<{ token: string }>('POST', '/api/v1/tokens', { name: 'edge-a join', role: 'join', maxUses: 1 })).body.token;
    agent = await startAgent();
    joinToken = '';
  }, 400_000);

  afterAll(async () => {
    await processes.stopAll();
    fs.rmSync(serverDir, { recursive: true, force: true });
    fs.rmSync(agentDir, { recursive: true, force: true });
  });

  it('deploys energy@champion to site=plant-a and the agent serves it over V2', async () => {
    const created = await api('POST', '/api/v1/deployments', {
      name: 'energy',
      model: 'energy@champion',
      nodeSelector: { site: 'plant-a' },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(await eventually(async () => ((await inferOnAgent()) === '1' ? true : undefined), 30_000)).toBe(true);
    expect(await eventually(async () => ((await nodeState())?.state === 'serving' ? nodeState() : undefined))).toMatchObject({
      version: 1,
      state: 'serving',
    });
    const metadata = await requestJson<{ name: string; versions: string[] }>(`${agentUrl}/v2/models/energy`);
    expect(metadata.body).toMatchObject({ name: 'energy', versions: ['1'] });
    expect((await requestJson(`${agentUrl}/v2/models/energy/versions/2/infer`, { method: 'POST', body: REQUEST })).status).toBe(404);
  });

  it('switches to the version the alias moves to while requests keep flowing, with none failing', async () => {
    const failures: string[] = [];
    const seen: string[] = [];
    let stop = false;
    let movedAt = 0;
    let switchedAt = 0;
    const client = async () => {
      while (!stop) {
        try {
          const version = await inferOnAgent();
          seen.push(version);
          if (version === '2' && !switchedAt) switchedAt = Date.now();
        } catch (error) {
          failures.push((error as Error).message);
        }
      }
    };
    const clients = [client(), client(), client(), client()];
    await eventually(async () => (seen.length >= 20 ? true : undefined));
    movedAt = Date.now();
    expect((await api('PUT', '/api/v1/models/energy/aliases/champion', { version: 2 })).status).toBe(200);
    await eventually(async () => (switchedAt ? true : undefined), 30_000, 50);
    const after = seen.length;
    await eventually(async () => (seen.length >= after + 20 ? true : undefined));
    stop = true;
    await Promise.all(clients);
    expect(failures).toEqual([]);
    expect(seen.slice(-10).every((v) => v === '2')).toBe(true);
    // Download, verify, load and warm-up included; the long poll itself answers in one round trip.
    console.log(`alias move to first answer from version 2: ${switchedAt - movedAt} ms over ${seen.length} requests`);
    expect(switchedAt - movedAt).toBeLessThan(10_000);
  });

  it('refuses a corrupt artifact, reports it failed with the reason, and keeps serving the old version', async () => {
    const v3 = (await api<ModelVersionView>('GET', '/api/v1/models/energy/versions/3')).body;
    const stored = findFile(serverDir, v3.artifact.sha256);
    const bytes = fs.readFileSync(stored);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    fs.writeFileSync(stored, bytes);
    expect((await api('PUT', '/api/v1/models/energy/aliases/champion', { version: 3 })).status).toBe(200);
    const failed = await eventually(async () => {
      const state = await nodeState();
      return state?.state === 'failed' ? state : undefined;
    }, 30_000);
    expect(failed).toMatchObject({ version: 3, servingVersion: 2, reason: expect.stringMatching(/sha256.*still serving version 2/) });
    expect(await inferOnAgent()).toBe('2');
    expect(fs.existsSync(path.join(agentDir, 'artifacts', v3.artifact.sha256))).toBe(false);
  });

  it('restarted while the control plane is down, the agent serves its last good version from its cache', async () => {
    // The agent first: a server stopping while the agent's long poll is open waits for that poll.
    await stopProcess(agent);
    await stopProcess(server);
    agent = await startAgent();
    expect(await eventually(async () => inferOnAgent(), 20_000)).toBe('2');
  });

  it('when the link returns, resyncs without downloading again what it has cached', async () => {
    server = await startServer();
    const { sha256 } = (await api<ModelVersionView>('GET', '/api/v1/models/energy/versions/2')).body.artifact;
    const cached = path.join(agentDir, 'artifacts', sha256);
    const inode = fs.statSync(cached).ino;
    expect((await api('PUT', '/api/v1/models/energy/aliases/champion', { version: 2 })).status).toBe(200);
    const serving = await eventually(async () => {
      const state = await nodeState();
      return state?.state === 'serving' && state.version === 2 ? state : undefined;
    }, 30_000);
    expect(serving.reason).toBeNull();
    expect(fs.statSync(cached).ino).toBe(inode);
    expect(fs.readdirSync(path.join(agentDir, 'artifacts')).filter((name) => name.endsWith('.partial'))).toEqual([]);
    expect(await inferOnAgent()).toBe('2');
  });
});
