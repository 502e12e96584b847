/**
 * Drift end to end, with real processes and the real PJM East series: a forecaster trained on
 * 2015–2016 serves on an agent; a client replays June 2018 hour by hour with load +20% (as if
 * the plant's demand had stepped up since 2017-07-01), posting the actual loads as they come.
 * The agent's summaries fire a drift event; under `retrain-and-promote` the control plane retrains
 * on the dataset's new version (holding the shifted data), scores the challenger beside the
 * champion on the same held-out windows, moves `champion`, and the agent serves the new version.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DriftEventView, DriftReportView } from '../../src/contracts/drift.js';
import type { RunView } from '../../src/contracts/runs.js';
import { parseTimeSeriesCsv } from '../../src/ml/timeseries/ingest.js';
import { PJME_TEXT, TestCluster } from '../support/cluster.js';
import { cleanFoglineEnv, eventually, requestJson, runFogline } from '../support/processes.js';

const W = 168;
const SHIFT_FROM = '2017-07-01';

/** The vendored CSV with rows up to `until` (exclusive), and load × 1.2 from SHIFT_FROM on. */
function csv(until: string, shift: boolean): string {
  const lines = PJME_TEXT.trim().split('\n');
  const rows = lines.slice(1).filter((line) => line < until);
  return [
    lines[0],
    ...rows.map((line) => {
      if (!shift || line < SHIFT_FROM) return line;
      const [time, value] = line.split(',');
      return `${time},${(Number(value) * 1.2).toFixed(1)}`;
    }),
  ].join('\n');
}

describe('drift (real processes, real data)', { timeout: 240_000 }, () => {
  let cluster: TestCluster;
  const api = <T>(method: string, route: string, body?: unknown) => cluster.api<T>(method, route, body);
  const cli = (args: string[]) => runFogline(args, cleanFoglineEnv({ FOGLINE_SERVER: cluster.url, FOGLINE_TOKEN: cluster.adminToken }));

  const upload = async (text: string) => {
    const response = await fetch(`${cluster.url}/api/v1/datasets/pjme/versions?timeColumn=Datetime&valueColumn=PJME_MW`, {
      method: 'POST',
      headers: { authorization: `Bearer ${cluster.adminToken}`, 'content-type': 'text/csv' },
      body: text,
    });
    expect(response.status).toBe(201);
  };

  beforeAll(async () => {
    cluster = await TestCluster.start('drift');
    await upload(csv('2017-01-01', false));
    const started = await api<RunView>('POST', '/api/v1/runs', {
      pipeline: 'forecast',
      dataset: 'pjme',
      model: 'energy',
      gate: 'none',
      params: { epochs: 4, hidden: [32], seed: 1 },
    });
    expect(started.status).toBe(201);
    expect((await cluster.finishedRun(started.body.id)).registeredVersion).toBe(1);
    await cluster.setAlias('energy', 'champion', 1);
    const created = await cli(['deploy', 'create', '--name', 'energy', '--model', 'energy@champion', '--to', 'site=plant-a']);
    expect(created.code, created.stderr).toBe(0);
    const policy = await cli([
      ...['drift', 'policy', 'set', 'energy', '--tests', 'wasserstein,error', '--action', 'retrain-and-promote'],
      ...['--min-samples', '48', '--report-interval', '1s', '--margin', '1%', '--cooldown', '1h'],
    ]);
    expect(policy.code, policy.stderr).toBe(0);
    expect(policy.stdout).toMatch(/Action:\s+retrain-and-promote \(margin 1\.0%\)/);
    // The data collected since (here: the whole series, shifted from SHIFT_FROM) is the dataset's next version.
    await upload(csv('2099-01-01', true));
    const joinToken = await cluster.joinToken(1);
    await cluster.startAgent('edge-1', { labels: 'site=plant-a', joinToken });
    await eventually(async () => ((await cluster.infer('edge-1', 'energy')) === '1' ? true : undefined), 60_000);
  }, 200_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('replayed shifted load fires a drift event; the retrained challenger wins, is promoted and served', async () => {
    const series = parseTimeSeriesCsv(csv('2099-01-01', true), { timeColumn: 'Datetime', valueColumn: 'PJME_MW' });
    const agent = cluster.agents.get('edge-1')!.url;
    const first = Math.round((Date.parse('2018-06-01T00:00:00Z') / 1000 - series.start) / series.intervalSeconds);
    let hours = 0;
    let fired: DriftEventView | undefined;
    for (let o = first; o < first + 400 && !fired; o++) {
      const startTime = series.start + o * series.intervalSeconds;
      const answer = await requestJson(`${agent}/v2/models/energy/infer`, {
        method: 'POST',
        body: {
          inputs: [
            { name: 'history', shape: [1, W], datatype: 'FP32', data: Array.from(series.values.subarray(o - W, o)) },
            { name: 'start_time', shape: [1], datatype: 'INT64', data: [startTime] },
          ],
        },
      });
      expect(answer.status).toBe(200);
      const actual = await requestJson<{ scored: number }>(`${agent}/v2/models/energy/actuals`, {
        method: 'POST',
        body: { start_time: startTime - series.intervalSeconds, values: [series.values[o - 1]] },
      });
      expect(actual.status).toBe(200);
      hours++;
      if (hours >= 48 && hours % 12 === 0) {
        // Reports go out every second: give the next one time to land.
        await new Promise((resolve) => setTimeout(resolve, 1500));
        fired = (await api<{ events: DriftEventView[] }>('GET', '/api/v1/drift/events?deployment=energy')).body.events[0];
      }
    }
    expect(fired, 'no drift event after 400 replayed hours').toBeDefined();
    expect(fired!.findings.map((f) => f.test)).toContain('wasserstein');
    expect(fired!.nodeName).toBe('edge-1');
    console.log(`drift event after ${hours} replayed hours: ${fired!.timeline[0]?.message}`);

    const reports = (await api<{ reports: DriftReportView[] }>('GET', '/api/v1/drift/reports?deployment=energy')).body.reports;
    expect(reports[0]?.summary.features[0]?.count).toBeGreaterThanOrEqual(48);
    expect(reports[0]?.summary.error?.count).toBeGreaterThan(0);

    const done = await eventually(
      async () => {
        const event = (await api<DriftEventView>('GET', `/api/v1/drift/events/${fired!.id}`)).body;
        return event.status === 'retraining' ? undefined : event;
      },
      150_000,
      500,
    );
    console.log(done.timeline.map((t) => `${t.status}: ${t.message}`).join('\n'));
    expect(done.status).toBe('promoted');
    expect(done.evaluation).toMatchObject({ championVersion: 1, challengerVersion: 2, wins: true });
    expect(done.evaluation!.challengerMape).toBeLessThan(done.evaluation!.championMape * 0.99);
    await eventually(async () => ((await cluster.infer('edge-1', 'energy')) === '2' ? true : undefined), 60_000);

    const events = await cli(['drift', 'events', '--deployment', 'energy', '--timeline']);
    expect(events.code, events.stderr).toBe(0);
    expect(events.stdout).toMatch(/promoted/);
    expect(events.stdout).toMatch(/energy@champion -> v2/);
  });
});
