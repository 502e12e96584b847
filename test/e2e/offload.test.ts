/**
 * Offloading end to end, with real processes: a control plane on SQLite and one agent with a
 * deliberately small local capacity (--max-batch-size 1). One small forecaster is deployed three
 * times: edge-only, cloud-only (made with the CLI's --offload) and auto with a 1 ms target.
 * cloud-only answers come from the control plane with the same numbers as the node's; auto under a
 * burst offloads some requests and fails none; with the control plane stopped, cloud-only and auto
 * requests still succeed on the node. Steps run in order and share one cluster.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { DeploymentView } from '../../src/contracts/deployments.js';
import type { V2InferResponse } from '../../src/contracts/open-inference.js';
import type { RunView } from '../../src/contracts/runs.js';
import { parseTimeSeriesCsv } from '../../src/ml/timeseries/ingest.js';
import {
  cleanFoglineEnv,
  ensureStopped,
  eventually,
  freePort,
  type FoglineProcess,
  ProcessTracker,
  requestJson,
  runFogline,
  tempDir,
} from '../support/processes.js';

const PJME_TEXT = fs.readFileSync(fileURLToPath(new URL('../../data/energy/PJME_hourly_trimmed.csv', import.meta.url)), 'utf8');
const series = parseTimeSeriesCsv(PJME_TEXT, { timeColumn: 'Datetime', valueColumn: 'PJME_MW' });
const WINDOW = 168;
const REQUEST = {
  inputs: [
    { name: 'history', shape: [1, WINDOW], datatype: 'FP32', data: Array.from(series.values.subarray(series.values.length - WINDOW)) },
    { name: 'start_time', shape: [1], datatype: 'INT64', data: [series.start + series.values.length * series.intervalSeconds] },
  ],
};

interface Answer {
  status: number;
  ranOn: string | undefined;
  header: string | null;
  body: V2InferResponse;
}

describe('offloading (real processes)', { timeout: 180_000 }, () => {
  const serverDir = tempDir('offload-server');
  const agentDir = tempDir('offload-agent');
  const processes = new ProcessTracker();
  let server: FoglineProcess;
  let serverUrl: string;
  let agentUrl: string;
  let adminToken: string;

  const api = <T>(method: string, route: string, body?: unknown) =>
    requestJson<T>(`${serverUrl}${route}`, { method, token: adminToken, body, timeoutMs: 30_000 });

  async function infer(model: string): Promise<Answer> {
    const response = await fetch(`${agentUrl}/v2/models/${model}/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(REQUEST),
      signal: AbortSignal.timeout(15_000),
    });
    const body = (await response.json()) as V2InferResponse;
    return {
      status: response.status,
      ranOn: body.parameters?.['fogline.ran_on'] as string | undefined,
      header: response.headers.get('x-fogline-ran-on'),
      body,
    };
  }

  /** `count` requests at once; every answer. */
  const burst = (model: string, count: number) => Promise.all(Array.from({ length: count }, () => infer(model)));

  beforeAll(async () => {
    const port = await freePort();
    serverUrl = `http://127.0.0.1:${port}`;
    server = processes.start([
      'server',
      '--data-dir',
      serverDir,
      '--port',
      String(port),
      '--heartbeat-interval',
      '1',
      '--log-level',
      'warn',
    ]);
    await server.waitForOutput(/listening on (http:\/\/\S+)/, 30_000);
    adminToken = fs.readFileSync(path.join(serverDir, 'admin.token'), 'utf8').trim();
    const upload = await fetch(`${serverUrl}/api/v1/datasets/pjme/versions?timeColumn=Datetime&valueColumn=PJME_MW`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'text/csv' },
      body: PJME_TEXT,
    });
    expect(upload.status).toBe(201);
    const started = await api<RunView>('POST', '/api/v1/runs', {
      pipeline: 'forecast',
      dataset: 'pjme',
      model: 'energy',
      gate: 'none',
      params: { epochs: 1, hidden: [16], seed: 1 },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    const run = await eventually(async () => {
      const view = (await api<RunView>('GET', `/api/v1/runs/${started.body.id}`)).body;
      return view.status === 'succeeded' || view.status === 'failed' ? view : undefined;
    }, 120_000);
    expect(run.error).toBeNull();

    const join = (await api<{ token: string }>('POST', '/api/v1/tokens', { name: 'edge', role: 'join', maxUses: 1 })).body.token;
    const agent = processes.start([
      'agent',
      ...['--server', serverUrl, '--name', 'edge-1', '--labels', 'site=plant-a', '--data-dir', agentDir],
      ...['--port', '0', '--log-level', 'warn', '--join-token', join, '--max-batch-size', '1', '--offload-cpu-load', '0'],
    ]);
    agentUrl = (await agent.waitForOutput(/serving on (http:\/\/\S+)/, 30_000))[1]!;
    await eventually(async () => {
      const { body } = await api<{ nodes: { status: string }[] }>('GET', '/api/v1/nodes');
      return body.nodes.some((n) => n.status === 'online') ? true : undefined;
    });

    const cli = await runFogline(
      [
        'deploy',
        'create',
        '--name',
        'cloudy',
        '--model',
        'energy@1',
        '--to',
        'site=plant-a',
        '--offload',
        'cloud-only',
        '--wait',
        '--timeout',
        '60s',
      ],
      cleanFoglineEnv({ FOGLINE_SERVER: serverUrl, FOGLINE_TOKEN: adminToken }),
    );
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/Offload:\s+cloud-only/);
    for (const [name, body] of [
      ['local', { offload: 'edge-only' }],
      ['busy', { offload: 'auto', latencyTargetMs: 1 }],
    ] as const) {
      const created = await api<DeploymentView>('POST', '/api/v1/deployments', {
        name,
        model: 'energy@1',
        nodeSelector: { site: 'plant-a' },
        ...body,
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
    }
    await eventually(async () => {
      const answers = await Promise.all(['cloudy', 'local', 'busy'].map((name) => infer(name).catch(() => undefined)));
      return answers.every((a) => a?.status === 200) ? true : undefined;
    }, 60_000);
  }, 300_000);

  afterAll(async () => {
    await processes.stopAll();
    for (const dir of [serverDir, agentDir]) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('cloud-only: answers come from the control plane, with the same version and numbers as the node, and say so', async () => {
    const cloud = await infer('cloudy');
    const edge = await infer('local');
    expect(cloud.status).toBe(200);
    expect(cloud.ranOn).toBe('cloud');
    expect(cloud.header).toBe('cloud');
    expect(cloud.body).toMatchObject({ model_name: 'cloudy', model_version: '1', parameters: { 'fogline.node': 'edge-1' } });
    expect(edge).toMatchObject({ status: 200, ranOn: 'edge', header: 'edge' });
    const cloudForecast = cloud.body.outputs[0]!.data as number[];
    const edgeForecast = edge.body.outputs[0]!.data as number[];
    expect(cloudForecast).toHaveLength(24);
    cloudForecast.forEach((value, i) => expect(value).toBeCloseTo(edgeForecast[i]!, 0));
    // Edge-only never leaves the node, even in a burst.
    const local = await burst('local', 50);
    expect(local.every((a) => a.status === 200 && a.ranOn === 'edge')).toBe(true);
  });

  it('the WebSocket stream offloads too: a cloud-only message is answered by the cloud', async () => {
    const socket = new WebSocket(`${agentUrl.replace(/^http/, 'ws')}/v2/models/cloudy/stream`);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const answer = new Promise<V2InferResponse>((resolve) => socket.once('message', (data) => resolve(JSON.parse(String(data)))));
    socket.send(JSON.stringify({ ...REQUEST, id: 'stream-1' }));
    expect(await answer).toMatchObject({ id: 'stream-1', model_name: 'cloudy', parameters: { 'fogline.ran_on': 'cloud' } });
    socket.close();
  });

  it('auto under a burst offloads some requests and fails none; the agent counts where they ran', async () => {
    const answers = (await Promise.all([burst('busy', 100), burst('busy', 100), burst('busy', 100)])).flat();
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    const cloud = answers.filter((a) => a.ranOn === 'cloud').length;
    const edge = answers.filter((a) => a.ranOn === 'edge').length;
    expect(cloud + edge).toBe(300);
    expect(cloud).toBeGreaterThan(0);
    expect(edge).toBeGreaterThan(0);
    const metrics = await (await fetch(`${agentUrl}/metrics`)).text();
    expect(metrics).toMatch(/fogline_offload_requests_total\{deployment="busy",outcome="offloaded",reason="queue"\} \d+/);
    expect(metrics).toMatch(/fogline_offload_requests_total\{deployment="cloudy",outcome="offloaded",reason="cloud-only"\} \d+/);
    // The node reports the same counts with its deployment status (about every 10 s): the API and dashboard show them.
    const node = await eventually(async () => {
      const { body } = await api<DeploymentView>('GET', '/api/v1/deployments/busy');
      const reported = body.nodes[0];
      return reported && reported.offloadedRequests >= cloud && reported.localRequests >= edge ? reported : undefined;
    }, 30_000);
    expect(node.nodeName).toBe('edge-1');
  });

  it('with the control plane stopped, cloud-only and auto requests still succeed on the node', async () => {
    await ensureStopped(server);
    const answers = [...(await burst('cloudy', 30)), ...(await burst('busy', 100)), ...(await burst('cloudy', 30))];
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(answers.every((a) => a.ranOn === 'edge')).toBe(true);
    const metrics = await (await fetch(`${agentUrl}/metrics`)).text();
    expect(metrics).toMatch(/fogline_offload_requests_total\{deployment="cloudy",outcome="fallback",reason="cloud-error"\} \d+/);
    expect(metrics).toMatch(/fogline_offload_circuit_open 1/);
  });
});
