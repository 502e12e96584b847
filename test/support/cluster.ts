/**
 * A real Fogline cluster for end-to-end tests: `fogline server` and `fogline agent` child
 * processes on loopback, the vendored PJM series uploaded, small forecasters trained. One place
 * for what every e2e suite needs, so that each test file reads as its scenario.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { RunView } from '../../src/contracts/runs.js';
import { parseTimeSeriesCsv } from '../../src/ml/timeseries/ingest.js';
import { eventually, type FoglineProcess, freePort, ProcessTracker, requestJson, tempDir } from './processes.js';

export const PJME_TEXT = fs.readFileSync(fileURLToPath(new URL('../../data/energy/PJME_hourly_trimmed.csv', import.meta.url)), 'utf8');
export const PJME_SERIES = parseTimeSeriesCsv(PJME_TEXT, { timeColumn: 'Datetime', valueColumn: 'PJME_MW' });
export const FORECAST_WINDOW = 168;
/** A real V2 request for the default forecaster: the last week of the series and the hour after it. */
export const FORECAST_REQUEST = {
  inputs: [
    {
      name: 'history',
      shape: [1, FORECAST_WINDOW],
      datatype: 'FP32',
      data: Array.from(PJME_SERIES.values.subarray(PJME_SERIES.values.length - FORECAST_WINDOW)),
    },
    {
      name: 'start_time',
      shape: [1],
      datatype: 'INT64',
      data: [PJME_SERIES.start + PJME_SERIES.values.length * PJME_SERIES.intervalSeconds],
    },
  ],
};

export interface AgentHandle {
  name: string;
  dataDir: string;
  process: FoglineProcess;
  url: string;
}

export class TestCluster {
  readonly processes = new ProcessTracker();
  readonly serverDir: string;
  readonly agents = new Map<string, AgentHandle>();
  server!: FoglineProcess;
  url = '';
  adminToken = '';
  private port = 0;

  private constructor(
    private readonly prefix: string,
    private readonly serverArgs: string[],
  ) {
    this.serverDir = tempDir(`${prefix}-server`);
  }

  /** A control plane on a free port (SQLite in its data dir), heartbeats every second. */
  static async start(prefix: string, serverArgs: string[] = []): Promise<TestCluster> {
    const cluster = new TestCluster(prefix, serverArgs);
    cluster.port = await freePort();
    cluster.url = `http://127.0.0.1:${cluster.port}`;
    await cluster.startServer();
    cluster.adminToken = fs.readFileSync(path.join(cluster.serverDir, 'admin.token'), 'utf8').trim();
    return cluster;
  }

  /** (Re)starts the control plane on the same port and data dir. */
  async startServer(): Promise<FoglineProcess> {
    this.server = this.processes.start([
      ...['server', '--data-dir', this.serverDir, '--port', String(this.port), '--heartbeat-interval', '1', '--log-level', 'warn'],
      ...this.serverArgs,
    ]);
    await this.server.waitForOutput(/listening on/, 30_000);
    return this.server;
  }

  api<T>(method: string, route: string, body?: unknown) {
    return requestJson<T>(`${this.url}${route}`, { method, token: this.adminToken, body, timeoutMs: 30_000 });
  }

  /** Uploads the vendored PJM East series (or `text`, a CSV of the same columns) as a new version of `dataset`. */
  async uploadPjme(text = PJME_TEXT, dataset = 'pjme'): Promise<void> {
    const upload = await fetch(`${this.url}/api/v1/datasets/${dataset}/versions?timeColumn=Datetime&valueColumn=PJME_MW`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.adminToken}`, 'content-type': 'text/csv' },
      body: text,
    });
    expect(upload.status).toBe(201);
  }

  /** Starts a forecast run on `pjme` (no gate) and returns its id. */
  async startForecastRun(options: { model?: string; seed: number; epochs?: number; hidden?: number[] }): Promise<string> {
    const started = await this.api<RunView>('POST', '/api/v1/runs', {
      pipeline: 'forecast',
      dataset: 'pjme',
      model: options.model ?? 'energy',
      gate: 'none',
      params: { epochs: options.epochs ?? 1, hidden: options.hidden ?? [16], seed: options.seed },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    return started.body.id;
  }

  /** Resolves with the run once it has ended. */
  finishedRun(id: string): Promise<RunView> {
    return eventually(async () => {
      const view = (await this.api<RunView>('GET', `/api/v1/runs/${id}`)).body;
      return view.status === 'succeeded' || view.status === 'failed' ? view : undefined;
    }, 120_000);
  }

  /** Runs `body` (what POST /api/v1/runs takes; gate none unless it says otherwise) to the end; returns the registered version. */
  async train(body: object): Promise<number> {
    const started = await this.api<RunView>('POST', '/api/v1/runs', { gate: 'none', ...body });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    const run = await this.finishedRun(started.body.id);
    expect(run.error).toBeNull();
    return run.registeredVersion as number;
  }

  /** Trains a small forecaster to the end; returns the registered version. */
  async trainForecaster(options: { model?: string; seed: number; epochs?: number; hidden?: number[] }): Promise<number> {
    const run = await this.finishedRun(await this.startForecastRun(options));
    expect(run.error).toBeNull();
    return run.registeredVersion as number;
  }

  async setAlias(model: string, alias: string, version: number): Promise<void> {
    expect((await this.api('PUT', `/api/v1/models/${model}/aliases/${alias}`, { version })).status).toBe(200);
  }

  async joinToken(maxUses: number): Promise<string> {
    return (await this.api<{ token: string }>('POST', '/api/v1/tokens', { name: `join-${maxUses}`, role: 'join', maxUses })).body.token;
  }

  /** Starts (or restarts, with `joinToken` omitted once enrolled) an agent with the given labels. */
  async startAgent(name: string, options: { labels?: string; joinToken?: string; args?: string[] } = {}): Promise<AgentHandle> {
    const dataDir = this.agents.get(name)?.dataDir ?? tempDir(`${this.prefix}-${name}`);
    const proc = this.processes.start([
      ...['agent', '--server', this.url, '--name', name, '--data-dir', dataDir, '--port', '0', '--log-level', 'warn'],
      ...(options.labels ? ['--labels', options.labels] : []),
      ...(options.joinToken ? ['--join-token', options.joinToken] : []),
      ...(options.args ?? []),
    ]);
    const [, url] = await proc.waitForOutput(/serving on (https?:\/\/\S+)/, 30_000);
    const handle = { name, dataDir, process: proc, url: url! };
    this.agents.set(name, handle);
    return handle;
  }

  /** Waits until `count` nodes are online (placement needs a first heartbeat). */
  async nodesOnline(count: number): Promise<void> {
    await eventually(async () => {
      const { body } = await this.api<{ nodes: { status: string }[] }>('GET', '/api/v1/nodes');
      return body.nodes.filter((n) => n.status === 'online').length >= count ? true : undefined;
    }, 30_000);
  }

  /** One V2 infer call on an agent; resolves with the version that answered, throws on any failure. */
  async infer(agent: string, model: string): Promise<string> {
    const { status, body } = await requestJson<{ model_version: string }>(`${this.agents.get(agent)!.url}/v2/models/${model}/infer`, {
      method: 'POST',
      body: FORECAST_REQUEST,
      timeoutMs: 10_000,
    });
    if (status !== 200) throw new Error(`${agent} answered ${status}: ${JSON.stringify(body)}`);
    return body.model_version;
  }

  /**
   * The version `agent` serves `model` at, from its V2 metadata: no inference runs, so the
   * deployment's drift statistics see none (a request's data time counts there).
   */
  async servedVersion(agent: string, model: string): Promise<string> {
    const { status, body } = await requestJson<{ versions?: string[] }>(`${this.agents.get(agent)!.url}/v2/models/${model}`, {
      timeoutMs: 10_000,
    });
    if (status !== 200) throw new Error(`${agent} answered ${status}: ${JSON.stringify(body)}`);
    return body.versions?.[0] ?? '';
  }

  async stop(): Promise<void> {
    await this.processes.stopAll();
    for (const dir of [this.serverDir, ...[...this.agents.values()].map((a) => a.dataDir)])
      fs.rmSync(dir, { recursive: true, force: true });
  }
}
