/**
 * Prometheus against a real cluster: a `fogline server` and two `fogline agent`s (real
 * processes), a model trained, deployed to both agents and asked once on each, then a real
 * Prometheus (Debian's `prometheus` package; `.ci/run` installs it) started on a free port with
 * deploy/prometheus/prometheus.yml (addresses and intervals adjusted). It must find the agents
 * through the control plane's HTTP service discovery, scrape all three targets, and hold the key
 * series; `promtool` must accept the configuration and a scrape of every process. edge-1 runs
 * `--edge-auth token`: Prometheus scrapes it with the inference token in fogline-agents.token, as
 * the shipped configuration says; edge-2 is open and ignores that token.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORECAST_REQUEST as REQUEST, TestCluster } from '../support/cluster.js';
import { eventually, freePort, requestJson, requireBinary, tempDir } from '../support/processes.js';

const CONFIG = fileURLToPath(new URL('../../deploy/prometheus/prometheus.yml', import.meta.url));
const DASHBOARDS = fileURLToPath(new URL('../../deploy/grafana/dashboards/', import.meta.url));

interface PromTarget {
  labels: Record<string, string>;
  scrapePool: string;
  health: string;
  lastError: string;
}

describe('Prometheus scrapes the control plane and the agents (real processes)', { timeout: 180_000 }, () => {
  const dir = tempDir('prometheus');
  let cluster: TestCluster;
  let prometheusBin: string;
  let promtoolBin: string;
  let prometheus: ChildProcess | undefined;
  let prometheusLog = '';
  let serverUrl: string;
  let promUrl: string;
  let viewerToken: string;
  /** An inference token made for scraping (--metrics), and one that may call energy on edge-1. */
  let scrapeToken: string;
  let inferToken: string;
  const agentUrls: string[] = [];
  /** edge-1 (token mode) needs the scrape token; edge-2 is open. */
  const scrapeAgent = (url: string) => fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${scrapeToken}` } });

  const api = <T>(method: string, route: string, body?: unknown) => cluster.api<T>(method, route, body);

  async function query(promql: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    const response = await requestJson<{ status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } }>(
      `${promUrl}/api/v1/query?query=${encodeURIComponent(promql)}`,
    );
    expect(response.body.status).toBe('success');
    return response.body.data.result;
  }

  /** Polls Prometheus until `promql` returns at least `min` series. */
  async function series(promql: string, min = 1): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    return eventually(
      async () => {
        const result = await query(promql);
        return result.length >= min ? result : undefined;
      },
      30_000,
      500,
    ).catch((error: Error) => {
      throw new Error(`${promql}: ${error.message}; prometheus log:\n${prometheusLog}`);
    });
  }

  function promtoolCheckMetrics(text: string): { status: number | null; output: string } {
    const result = spawnSync(promtoolBin, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  }

  beforeAll(async () => {
    prometheusBin = requireBinary('prometheus');
    promtoolBin = requireBinary('promtool');

    cluster = await TestCluster.start('prometheus');
    serverUrl = cluster.url;
    viewerToken = (await api<{ token: string }>('POST', '/api/v1/tokens', { name: 'prometheus', role: 'viewer' })).body.token;
    scrapeToken = (await api<{ token: string }>('POST', '/api/v1/tokens', { name: 'prometheus', role: 'inference', metrics: true })).body
      .token;
    const joinToken = await cluster.joinToken(2);

    // A model to serve: one short training run (its epochs feed the pipeline metrics), trained
    // while the agents start.
    await cluster.uploadPjme();
    const run = cluster.startForecastRun({ seed: 1, epochs: 2 }).then((id) => cluster.finishedRun(id));
    for (const [name, site] of [
      ['edge-1', 'plant-a'],
      ['edge-2', 'plant-b'],
    ] as const) {
      const args = name === 'edge-1' ? ['--edge-auth', 'token'] : [];
      agentUrls.push((await cluster.startAgent(name, { labels: `site=${site}`, joinToken, args })).url);
    }
    expect((await run).error).toBeNull();
    expect((await api('POST', '/api/v1/deployments', { name: 'energy', model: 'energy' })).status).toBe(201);
    inferToken = (await api<{ token: string }>('POST', '/api/v1/tokens', { name: 'app', role: 'inference', deployments: ['energy'] })).body
      .token;
    for (const url of agentUrls) {
      await eventually(async () => {
        const answer = await requestJson(`${url}/v2/models/energy/infer`, {
          method: 'POST',
          body: REQUEST,
          token: inferToken,
          timeoutMs: 10_000,
        });
        return answer.status === 200 ? true : undefined;
      }, 60_000);
    }

    // Prometheus, with the shipped configuration pointed at this control plane, scraping every second.
    const promDir = path.join(dir, 'prometheus');
    fs.mkdirSync(promDir);
    fs.writeFileSync(path.join(promDir, 'fogline.token'), `${viewerToken}\n`, { mode: 0o600 });
    fs.writeFileSync(path.join(promDir, 'fogline-agents.token'), `${scrapeToken}\n`, { mode: 0o600 });
    const config = fs
      .readFileSync(CONFIG, 'utf8')
      .replaceAll('127.0.0.1:7070', new URL(cluster.url).host)
      .replace('scrape_interval: 15s', 'scrape_interval: 1s')
      .replace('scrape_timeout: 10s', 'scrape_timeout: 1s')
      .replace('refresh_interval: 30s', 'refresh_interval: 1s');
    const configFile = path.join(promDir, 'prometheus.yml');
    fs.writeFileSync(configFile, config);
    execFileSync(promtoolBin, ['check', 'config', configFile], { encoding: 'utf8' });

    const promPort = await freePort();
    promUrl = `http://127.0.0.1:${promPort}`;
    prometheus = spawn(
      prometheusBin,
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${path.join(promDir, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.stdout?.on('data', (chunk: Buffer) => (prometheusLog += chunk.toString()));
    prometheus.stderr?.on('data', (chunk: Buffer) => (prometheusLog += chunk.toString()));
    await eventually(async () => ((await fetch(`${promUrl}/-/ready`)).status === 200 ? true : undefined), 30_000).catch((error: Error) => {
      throw new Error(`Prometheus did not get ready: ${error.message}\n${prometheusLog}`);
    });
  }, 300_000);

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null && prometheus.signalCode === null) {
      const exited = new Promise((resolve) => prometheus?.once('exit', resolve));
      prometheus.kill('SIGTERM');
      const timer = setTimeout(() => prometheus?.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await cluster?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('accepts the shipped configuration', () => {
    // Beside a token file, as the configuration's comment asks, unchanged otherwise.
    const copy = path.join(dir, 'shipped');
    fs.mkdirSync(copy, { recursive: true });
    fs.copyFileSync(CONFIG, path.join(copy, 'prometheus.yml'));
    fs.writeFileSync(path.join(copy, 'fogline.token'), 'fgl.x.y\n', { mode: 0o600 });
    fs.writeFileSync(path.join(copy, 'fogline-agents.token'), 'fgl.x.z\n', { mode: 0o600 });
    const result = spawnSync(promtoolBin, ['check', 'config', path.join(copy, 'prometheus.yml')], { encoding: 'utf8' });
    expect(result.status, `${result.stdout}${result.stderr}`).toBe(0);
  });

  it('discovers both agents through the control plane and scrapes all three targets', async () => {
    const discovery = await requestJson<{ targets: string[]; labels: Record<string, string> }[]>(
      `${serverUrl}/api/v1/discovery/prometheus`,
      { token: viewerToken },
    );
    expect(discovery.status).toBe(200);
    expect(discovery.body.map((group) => group.labels.node).sort()).toEqual(['edge-1', 'edge-2']);
    expect((await requestJson(`${serverUrl}/api/v1/discovery/prometheus`)).status).toBe(401);

    const targets = await eventually(
      async () => {
        const response = await requestJson<{ data: { activeTargets: PromTarget[] } }>(`${promUrl}/api/v1/targets?state=active`);
        const active = response.body.data.activeTargets;
        return active.length === 3 && active.every((target) => target.health === 'up') ? active : undefined;
      },
      30_000,
      500,
    ).catch(async (error: Error) => {
      const response = await requestJson(`${promUrl}/api/v1/targets`);
      throw new Error(`${error.message}: ${JSON.stringify(response.body)}\n${prometheusLog}`);
    });
    const agents = targets.filter((target) => target.scrapePool === 'fogline-agents');
    expect(agents.map((target) => target.labels.node).sort()).toEqual(['edge-1', 'edge-2']);
    expect(agents.map((target) => target.labels.node_label_site).sort()).toEqual(['plant-a', 'plant-b']);
    expect(agents.every((target) => target.labels.node_role === 'edge' && /^[0-9a-f]+$/.test(target.labels.node_id ?? ''))).toBe(true);
    expect(targets.filter((target) => target.scrapePool === 'fogline-control-plane')).toHaveLength(1);
  });

  it('holds the key series of the control plane and the agents', async () => {
    // Control plane: fleet, resources from heartbeats, deployments, training, HTTP, process.
    expect((await series('fogline_nodes{status="online",role="edge"} == 2')).length).toBe(1);
    expect(await series('fogline_node_heartbeat_age_seconds{job="fogline-control-plane"}', 2)).toHaveLength(2);
    await series('fogline_node_memory_available_bytes{node="edge-1"} > 0');
    await series('fogline_node_load1{node="edge-2"}');
    await series('fogline_deployment_nodes{deployment="energy",state="serving"} == 2');
    await series('fogline_pipeline_runs_finished_total{pipeline="forecast",status="succeeded"} == 1');
    await series('fogline_pipeline_run_duration_seconds_count{pipeline="forecast"} == 1');
    await series('fogline_pipeline_step_duration_seconds_count{pipeline="forecast",step="train"} == 1');
    await series('fogline_pipeline_last_epoch_loss{pipeline="forecast",model="energy"} > 0');
    await series('fogline_http_requests_total{job="fogline-control-plane",route="/api/v1/nodes/:id/heartbeat",status_class="2xx"}');
    await series('process_resident_memory_bytes{job="fogline-control-plane"}');

    // Agents: their own resources, serving, loads, downloads, HTTP, process; labelled by node.
    expect(await series('fogline_agent_memory_total_bytes', 2)).toHaveLength(2);
    const served = await series(
      'fogline_inference_requests_total{deployment="energy",model="energy",version="1",outcome="success"} >= 1',
      2,
    );
    expect(served.map((s) => s.metric.node).sort()).toEqual(['edge-1', 'edge-2']);
    await series('fogline_inference_compute_duration_seconds_count{deployment="energy"} >= 1', 2);
    await series('fogline_inference_queue_duration_seconds_count{deployment="energy"}', 2);
    await series('fogline_inference_batch_size_count{deployment="energy"}', 2);
    await series('fogline_model_loads_total{deployment="energy",outcome="success"} >= 1', 2);
    await series('fogline_model_serving_version{deployment="energy"} == 1', 2);
    await series('fogline_model_load_duration_seconds_count{deployment="energy"}', 2);
    await series('fogline_artifact_download_bytes_total{model="energy"} > 0', 2);
    await series('fogline_artifact_download_duration_seconds_count{outcome="success"} >= 1', 2);
    await series('fogline_http_requests_total{job="fogline-agents",route="/v2/models/:name/infer"}', 2);
    await series('fogline_agent_info{node_name="edge-1"} == 1');
  });

  it('has Grafana dashboards whose queries Prometheus accepts, over metrics the processes export', async () => {
    const scrapes = await Promise.all([
      fetch(`${serverUrl}/metrics`, { headers: { authorization: `Bearer ${viewerToken}` } }).then((r) => r.text()),
      ...agentUrls.map((url) => scrapeAgent(url).then((r) => r.text())),
    ]);
    const exported = new Set(['up']);
    for (const text of scrapes) for (const match of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) exported.add(match[1]!);
    const files = fs.readdirSync(DASHBOARDS).filter((file) => file.endsWith('.json'));
    expect(files.sort()).toEqual(['fleet-overview.json', 'model-serving.json', 'node-detail.json', 'training.json']);
    for (const file of files) {
      const board = JSON.parse(fs.readFileSync(path.join(DASHBOARDS, file), 'utf8')) as {
        panels: { title: string; targets: { expr: string }[] }[];
      };
      for (const panel of board.panels) {
        for (const { expr } of panel.targets) {
          for (const [name] of expr.matchAll(/\b(fogline|process|nodejs)_[a-z0-9_]+/g)) {
            const family = name.replace(/_(bucket|sum|count)$/, '');
            expect(exported.has(name) || exported.has(family), `${file} "${panel.title}": ${name} is not exported`).toBe(true);
          }
          const promql = expr.replaceAll('$node', 'edge-1').replaceAll('$deployment', '.*').replaceAll('$model', '.*');
          const answer = await requestJson<{ status: string; error?: string }>(
            `${promUrl}/api/v1/query?query=${encodeURIComponent(promql)}`,
          );
          expect(answer.body.status, `${file} "${panel.title}": ${promql}: ${answer.body.error}`).toBe('success');
        }
      }
    }
    // The fleet and serving dashboards show data for this cluster.
    expect(await series('sum(fogline_nodes{status="online"})')).toHaveLength(1);
    expect(await series('fogline_model_serving_version{deployment=~".*"}', 2)).toHaveLength(2);
  });

  it('serves scrapes that promtool check metrics accepts', async () => {
    const scrapes = [
      await fetch(`${serverUrl}/metrics`, { headers: { authorization: `Bearer ${viewerToken}` } }),
      ...(await Promise.all(agentUrls.map((url) => scrapeAgent(url)))),
    ];
    for (const scrape of scrapes) {
      expect(scrape.status).toBe(200);
      expect(scrape.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const result = promtoolCheckMetrics(await scrape.text());
      expect(result.status, result.output).toBe(0);
    }
    // Without a token the control plane's /metrics is refused (--metrics-access viewer, the default),
    // and so is that of the agent in token mode; the open one answers anyone.
    expect((await fetch(`${serverUrl}/metrics`)).status).toBe(401);
    expect((await fetch(`${agentUrls[0]}/metrics`)).status).toBe(401);
    expect((await fetch(`${agentUrls[1]}/metrics`)).status).toBe(200);
  });
});
