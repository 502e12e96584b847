/**
 * `fogline predict` and the shipped example requests, as the README uses them, against a real
 * control plane and agent serving a small trained forecaster: examples/ is answered (by predict,
 * by a session, the actuals by the node), --from-csv builds the same request from the vendored CSV
 * and refuses files and models it cannot serve, and --repeat loads a node and counts what came back.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeploymentView } from '../../src/contracts/deployments.js';
import type { InferLoadSummary } from '../../src/cli/infer-load.js';
import { parseTimeSeriesCsv } from '../../src/ml/timeseries/ingest.js';
import { formatTimestamp } from '../../src/ml/timeseries/timestamp.js';
import { type AgentHandle, PJME_TEXT, TestCluster } from '../support/cluster.js';
import { cleanFoglineEnv, eventually, requestJson, runFogline, tempDir } from '../support/processes.js';

const repo = (file: string) => fileURLToPath(new URL(`../../${file}`, import.meta.url));
const REQUEST = repo('examples/pjme-request.json');
const REQUESTS = repo('examples/pjme-requests.ndjson');
const ACTUALS = repo('examples/pjme-actuals.json');
const CSV = repo('data/energy/PJME_hourly_trimmed.csv');
const FORECAST = /^energy version 1\nforecast FP32 \[1, 24\]: (\d+(\.\d+)? ){23}\d+(\.\d+)?\n$/;

/** The series' last `hours` points as a clean CSV of the same columns. */
function lastHours(hours: number): string[] {
  const series = parseTimeSeriesCsv(PJME_TEXT, { timeColumn: 'Datetime', valueColumn: 'PJME_MW' });
  const first = series.values.length - hours;
  return Array.from(
    { length: hours },
    (_, i) => `${formatTimestamp(series.start + (first + i) * series.intervalSeconds)},${series.values[first + i]}`,
  );
}

describe('fogline predict and examples/ (real processes)', { timeout: 300_000 }, () => {
  let cluster: TestCluster;
  let agent: AgentHandle;
  const dir = tempDir('predict-cli');

  const fogline = (...args: string[]) => runFogline([...args, '--server', cluster.url, '--token', cluster.adminToken], cleanFoglineEnv());
  const predict = (...args: string[]) => fogline('predict', '--node', 'edge-1', ...args);
  const load = async (...args: string[]) => {
    const run = await predict(...args, '--json');
    return { ...run, summary: JSON.parse(run.stdout) as InferLoadSummary };
  };
  const deploy = async (name: string, body: object = {}) => {
    const created = await cluster.api<DeploymentView>('POST', '/api/v1/deployments', { name, model: 'pjme-forecaster@1', ...body });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
  };

  beforeAll(async () => {
    cluster = await TestCluster.start('predict-cli');
    await cluster.uploadPjme();
    await cluster.trainForecaster({ model: 'pjme-forecaster', seed: 11 });
    agent = await cluster.startAgent('edge-1', { labels: 'site=plant-a', joinToken: await cluster.joinToken(1) });
    await cluster.nodesOnline(1);
    await deploy('energy');
    await deploy('energy-cloud', { offload: 'cloud-only' });
    await eventually(async () => {
      const views = await Promise.all(
        ['energy', 'energy-cloud'].map(async (name) => (await cluster.api<DeploymentView>('GET', `/api/v1/deployments/${name}`)).body),
      );
      return views.every((view) => view.nodes.some((n) => n.state === 'serving')) ? true : undefined;
    }, 60_000);
  }, 300_000);

  afterAll(async () => {
    await cluster?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers examples/pjme-request.json, and --from-csv builds the same request from the vendored CSV', async () => {
    const fromFile = await predict('--model', 'energy', '--input', REQUEST);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    expect(fromFile.stdout).toMatch(FORECAST);

    const fromCsv = await predict('--model', 'energy', '--from-csv', CSV);
    expect(fromCsv.code, fromCsv.stderr).toBe(0);
    expect(fromCsv.stdout).toBe(fromFile.stdout);
    expect(fromCsv.stderr).toContain('history 2018-07-26 01:00:00 .. 2018-08-02 00:00:00 (168 points), forecast from 2018-08-02 01:00:00');
  });

  it('--at picks the window: the forecast is the one for that day’s line of pjme-requests.ndjson', async () => {
    // Line 11 of 24 is 13 days before the last (2018-08-02 01:00).
    const line = fs.readFileSync(REQUESTS, 'utf8').split('\n')[10] as string;
    const lineFile = path.join(dir, 'line-11.json');
    fs.writeFileSync(lineFile, line);
    const fromLine = await predict('--model', 'energy', '--input', lineFile);
    expect(fromLine.code, fromLine.stderr).toBe(0);
    const fromCsv = await predict(
      '--model',
      'energy',
      '--from-csv',
      CSV,
      '--time-column',
      'Datetime',
      '--value-column',
      'PJME_MW',
      '--at',
      '2018-07-20T01:00:00Z',
    );
    expect(fromCsv.code, fromCsv.stderr).toBe(0);
    expect(fromCsv.stdout).toBe(fromLine.stdout);
    expect(fromCsv.stderr).toContain('forecast from 2018-07-20 01:00:00');
  });

  it('streams examples/pjme-requests.ndjson through a session, and the node scores examples/pjme-actuals.json', async () => {
    const session = await fogline('sessions', 'open', '--model', 'energy', '--kind', 'scalar', '--input', REQUESTS);
    expect(session.code, session.stderr).toBe(0);
    const answers = session.stdout.trimEnd().split('\n');
    expect(answers).toHaveLength(24);
    answers.forEach((answer, i) => expect(answer).toMatch(new RegExp(`^#${i + 1} forecast: (\\d+(\\.\\d+)? ){23}\\d+(\\.\\d+)?$`)));
    // The last line is pjme-request.json: the same forecast as predict prints.
    const predicted = await predict('--model', 'energy', '--input', REQUEST);
    expect(answers[23]!.replace(/^#24 forecast: /, '')).toBe(predicted.stdout.split('\n')[1]!.replace(/^forecast FP32 \[1, 24\]: /, ''));

    const scored = await requestJson<{ scored: number; pending: number }>(`${agent.url}/v2/models/energy/actuals`, {
      method: 'POST',
      body: JSON.parse(fs.readFileSync(ACTUALS, 'utf8')),
    });
    expect(scored.status, JSON.stringify(scored.body)).toBe(200);
    expect(scored.body.scored).toBeGreaterThanOrEqual(24);
  });

  it('refuses a CSV with too few points, or with rows it cannot read, saying why', async () => {
    const short = path.join(dir, 'short.csv');
    fs.writeFileSync(short, ['Datetime,PJME_MW', ...lastHours(150)].join('\n'));
    const tooShort = await predict('--model', 'energy', '--from-csv', short);
    expect(tooShort.code).toBe(1);
    expect(tooShort.stderr).toMatch(/short\.csv has 150 points, .*the default request \(the 168 points before the last 24\) needs 192/);
    expect(tooShort.stdout).toBe('');
    // With --at at its end, 150 points are still too few for a week of history.
    const atEnd = await predict('--model', 'energy', '--from-csv', short, '--at', '2018-08-03 01:00');
    expect(atEnd.code).toBe(1);
    expect(atEnd.stderr).toMatch(/needs the 168 points before it/);

    const rows = lastHours(400);
    rows[10] = rows[10]!.replace(/,.*/, ',n/a');
    rows[20] = rows[20]!.replace(/^[^,]*/, 'yesterday');
    const bad = path.join(dir, 'bad.csv');
    fs.writeFileSync(bad, ['Datetime,PJME_MW', ...rows].join('\n'));
    const badRows = await predict('--model', 'energy', '--from-csv', bad);
    expect(badRows.code).toBe(1);
    expect(badRows.stderr).toMatch(
      /bad\.csv: 2 of 400 rows cannot be read \(1 with no readable time in "Datetime", 1 with no number in "PJME_MW"\)/,
    );
  });

  it('refuses --from-csv for a model whose inputs are not a forecaster’s, naming them', async () => {
    await cluster.train({ pipeline: 'anomaly', dataset: 'pjme', model: 'pjme-anomaly', params: { epochs: 1 } });
    const refused = await fogline('predict', '--cloud', '--model', 'pjme-anomaly', '--from-csv', CSV);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/pjme-anomaly takes history \(FP32 \[-1, \d+\]\), value \(FP32 \[-1\]\), not a forecaster's history/);
  });

  it('--repeat sends the request many times and counts the answers by where they ran and why', async () => {
    const edge = await load('--model', 'energy', '--input', REQUEST, '--repeat', '300', '--concurrency', '8');
    expect(edge.code, edge.stderr).toBe(0);
    expect(edge.summary).toMatchObject({ repeat: 300, sent: 300, answered: 300, failed: 0, stopped: 'done', failures: {} });
    expect(edge.summary.ranOn).toEqual({ edge: 300 });
    expect(edge.summary.offloadReasons).toEqual({ 'edge-only': 300 });
    expect(edge.summary.latencyMs!.p50).toBeLessThanOrEqual(edge.summary.latencyMs!.p99);

    // A cloud-only deployment on the same node: each answer says it ran in the cloud.
    const cloud = await predict('--model', 'energy-cloud', '--from-csv', CSV, '--repeat', '40', '--concurrency', '4');
    expect(cloud.code, cloud.stderr).toBe(0);
    const lines = cloud.stdout.split('\n');
    expect(lines[0]).toMatch(/^40 requests to energy-cloud on edge-1, 4 at a time, in [\d.]+ s: 40 answered, 0 failed \(\d+ answers\/s\)$/);
    expect(lines[1]).toMatch(/^latency: p50 [\d.]+ ms, p99 [\d.]+ ms, max [\d.]+ ms$/);
    expect(lines.slice(2)).toEqual(['ran on: cloud 40 (100.0%)', 'offload reasons: cloud-only 40 (100.0%)', '']);

    // Straight to the control plane: its own model answers, in the cloud.
    const direct = await fogline('predict', '--cloud', '--model', 'pjme-forecaster@1', '--input', REQUEST, '--repeat', '20', '--json');
    expect(direct.code, direct.stderr).toBe(0);
    expect(JSON.parse(direct.stdout)).toMatchObject({ sent: 20, answered: 20, failed: 0, ranOn: { cloud: 20 }, offloadReasons: {} });
  });

  it('--repeat counts failures and exits 1, and stops sending at --duration', async () => {
    const failing = await predict('--model', 'nothing', '--input', REQUEST, '--repeat', '20', '--concurrency', '4');
    expect(failing.code).toBe(1);
    expect(failing.stdout).toContain('0 answered, 20 failed');
    expect(failing.stdout).toContain('failed 20×: HTTP 404: This node serves no model "nothing"');

    // 100,000 requests cannot be answered in 2 s here: sending stops, and what was sent is counted.
    const bounded = await load('--model', 'energy', '--input', REQUEST, '--repeat', '100000', '--concurrency', '16', '--duration', '2s');
    expect(bounded.code, bounded.stderr).toBe(0);
    expect(bounded.summary.stopped).toBe('duration');
    expect(bounded.summary.sent).toBeLessThan(100_000);
    expect(bounded.summary.answered + bounded.summary.failed).toBe(bounded.summary.sent);
    expect(bounded.summary.ranOn.edge).toBe(bounded.summary.answered);

    const tooMany = await predict('--model', 'energy', '--input', REQUEST, '--repeat', '100001');
    expect(tooMany.code).toBe(1);
    expect(tooMany.stderr).toMatch(/--repeat must be at most 100000/);
    const notAlone = await predict('--model', 'energy', '--input', REQUEST, '--concurrency', '4');
    expect(notAlone.code).toBe(1);
    expect(notAlone.stderr).toMatch(/--concurrency goes with --repeat/);
  });
});
