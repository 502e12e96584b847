/**
 * Offloading end to end, with real processes: a control plane on SQLite and one agent with a
 * deliberately small local capacity (--max-batch-size 1). One small forecaster is deployed three
 * times: edge-only, cloud-only (made with the CLI's --offload) and auto with a 1 ms target.
 * cloud-only answers come from the control plane with the same numbers as the node's; auto under a
 * burst offloads some requests, sheds the excess with 429 + Retry-After and fails none; with the
 * control plane stopped, cloud-only requests still succeed on the node, and auto under overload
 * answers on the node or sheds, never fails. Steps run in order and share one cluster.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { DeploymentView } from '../../src/contracts/deployments.js';
import type { V2InferResponse } from '../../src/contracts/open-inference.js';
import { FORECAST_REQUEST as REQUEST, TestCluster } from '../support/cluster.js';
import { cleanFoglineEnv, ensureStopped, eventually, runFogline } from '../support/processes.js';

interface Answer {
  status: number;
  ranOn: string | undefined;
  header: string | null;
  retryAfter: string | null;
  body: V2InferResponse & { error?: string };
}

describe('offloading (real processes)', { timeout: 180_000 }, () => {
  let cluster: TestCluster;
  let agentUrl: string;

  const api = <T>(method: string, route: string, body?: unknown) => cluster.api<T>(method, route, body);

  async function infer(model: string): Promise<Answer> {
    const response = await fetch(`${agentUrl}/v2/models/${model}/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(REQUEST),
      signal: AbortSignal.timeout(15_000),
    });
    const body = (await response.json()) as Answer['body'];
    return {
      status: response.status,
      ranOn: body.parameters?.['fogline.ran_on'] as string | undefined,
      header: response.headers.get('x-fogline-ran-on'),
      retryAfter: response.headers.get('retry-after'),
      body,
    };
  }

  /** `count` requests at once; every answer. */
  const burst = (model: string, count: number) => Promise.all(Array.from({ length: count }, () => infer(model)));

  /** Every answer is a 200 or a shed (429 with Retry-After and a message saying so): nothing failed. */
  function expectAnsweredOrShed(answers: Answer[]): { shed: Answer[]; answered: Answer[] } {
    const shed = answers.filter((a) => a.status === 429);
    const answered = answers.filter((a) => a.status === 200);
    expect(answers.filter((a) => a.status !== 200 && a.status !== 429)).toEqual([]);
    for (const a of shed) {
      expect(Number(a.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(a.body.error).toMatch(/overloaded.*retry after \d+ s/);
    }
    return { shed, answered };
  }

  beforeAll(async () => {
    cluster = await TestCluster.start('offload');
    await cluster.uploadPjme();
    expect(await cluster.trainForecaster({ seed: 1 })).toBe(1);
    const agent = await cluster.startAgent('edge-1', {
      labels: 'site=plant-a',
      joinToken: await cluster.joinToken(1),
      args: ['--max-batch-size', '1', '--offload-cpu-load', '0'],
    });
    agentUrl = agent.url;
    await cluster.nodesOnline(1);

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
      cleanFoglineEnv({ FOGLINE_SERVER: cluster.url, FOGLINE_TOKEN: cluster.adminToken }),
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
    await cluster?.stop();
  });

  it('cloud-only: answers come from the control plane, with the same version and numbers as the node, and say so', async () => {
    const cloud = await infer('cloudy');
    const edge = await infer('local');
    expect(cloud.status).toBe(200);
    expect(cloud.ranOn).toBe('cloud');
    expect(cloud.header).toBe('cloud');
    expect(cloud.body).toMatchObject({ model_name: 'cloudy', model_version: '1', parameters: { 'fogline.node': 'edge-1' } });
    expect(edge).toMatchObject({ status: 200, ranOn: 'edge', header: 'edge' });
    // The control plane says how long its queue is with every answer (auto adds it to the round trip).
    const direct = await fetch(`${cluster.url}/v2/models/energy/versions/1/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${cluster.adminToken}` },
      body: JSON.stringify(REQUEST),
    });
    expect(direct.status).toBe(200);
    expect(Number(direct.headers.get('fogline-queue-ms'))).toBeGreaterThanOrEqual(0);
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

  it('auto under a burst offloads some requests, sheds the excess with 429 and fails none; the agent counts where they ran', async () => {
    const answers = (await Promise.all([burst('busy', 100), burst('busy', 100), burst('busy', 100)])).flat();
    const { shed, answered } = expectAnsweredOrShed(answers);
    const cloud = answered.filter((a) => a.ranOn === 'cloud').length;
    const edge = answered.filter((a) => a.ranOn === 'edge').length;
    expect(cloud + edge + shed.length).toBe(300);
    expect(cloud).toBeGreaterThan(0);
    // A 1 ms target cannot be met by either side for 300 requests at once: the excess is shed at once.
    expect(shed.length).toBeGreaterThan(0);
    // On a loaded machine the whole burst may go to the cloud (the event loop saturated, or every
    // wait past 1 ms): auto is not cloud-only, though: once the queue drains, a lone request runs here.
    await eventually(async () => ((await infer('busy')).ranOn === 'edge' ? true : undefined), 30_000, 500);
    const metrics = await (await fetch(`${agentUrl}/metrics`)).text();
    expect(metrics).toMatch(/fogline_offload_requests_total\{deployment="busy",outcome="offloaded",reason="(queue|overload)"\} \d+/);
    expect(metrics).toContain(`fogline_offload_requests_total{deployment="busy",outcome="shed",reason="overload"} ${shed.length}`);
    // What auto weighed is on /metrics too (docs/agent.md).
    expect(metrics).toMatch(/fogline_offload_cloud_limit\{deployment="busy"\} \d+/);
    expect(metrics).toMatch(/fogline_offload_edge_expected_ms\{deployment="busy"\} [\d.]+/);
    expect(metrics).toMatch(/fogline_offload_requests_total\{deployment="cloudy",outcome="offloaded",reason="cloud-only"\} \d+/);
    // The node reports the same counts with its deployment status (about every 10 s): the API and dashboard show them.
    const node = await eventually(async () => {
      const { body } = await api<DeploymentView>('GET', '/api/v1/deployments/busy');
      const reported = body.nodes[0];
      return reported && reported.offloadedRequests >= cloud && reported.localRequests >= edge + 1 ? reported : undefined;
    }, 30_000);
    expect(node.nodeName).toBe('edge-1');
  });

  it('with the control plane stopped, cloud-only requests succeed on the node, and auto under overload answers on the node or sheds', async () => {
    await ensureStopped(cluster.server);
    const cloudOnly = [...(await burst('cloudy', 30)), ...(await burst('cloudy', 30))];
    expect(cloudOnly.filter((a) => a.status !== 200)).toEqual([]);
    expect(cloudOnly.every((a) => a.ranOn === 'edge')).toBe(true);
    // Overload with the cloud away: nothing fails; what the node can take it answers, the rest is shed.
    const overloaded = (await Promise.all([burst('busy', 100), burst('busy', 100)])).flat();
    const { answered } = expectAnsweredOrShed(overloaded);
    expect(answered.length).toBeGreaterThan(0);
    expect(answered.every((a) => a.ranOn === 'edge')).toBe(true);
    // A cloud failure never fails a request the node can serve: one at a time, every one is answered here.
    for (let i = 0; i < 5; i++) expect(await infer('busy')).toMatchObject({ status: 200, ranOn: 'edge' });
    const metrics = await (await fetch(`${agentUrl}/metrics`)).text();
    expect(metrics).toMatch(/fogline_offload_requests_total\{deployment="cloudy",outcome="fallback",reason="cloud-error"\} \d+/);
    expect(metrics).toMatch(/fogline_offload_circuit_open 1/);
  });
});
