/**
 * Drift end to end, with real processes and the real PJM East series: a forecaster trained on
 * 2015–2016 serves on an agent; a client replays June 2018 hour by hour with load +20% (as if
 * the plant's demand had stepped up since 2017-07-01), posting the actual loads as they come.
 * The agent's summaries fire a drift event; under `retrain-and-promote` the control plane retrains
 * on the dataset's new version (holding the shifted data), scores the challenger beside the
 * champion on the same held-out windows, moves `champion`, and the agent serves the new version.
 * Then: a second round in a row promotes too (sedna#381: "the second round never deploys"); a
 * worse challenger is not promoted; a second deployment with the default policy sees a month
 * of unshifted load without one drift event (the false-alarm test); and with the policy's consent
 * the node uploads the actuals it is posted, which become the next version of the dataset that
 * retraining then uses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatasetVersionView } from '../../src/contracts/datasets.js';
import type { DriftEventView, DriftReportView } from '../../src/contracts/drift.js';
import type { RunView } from '../../src/contracts/runs.js';
import { parseTimeSeriesCsv } from '../../src/ml/timeseries/ingest.js';
import { PJME_TEXT, TestCluster } from '../support/cluster.js';
import { cleanFoglineEnv, eventually, requestJson, runFogline } from '../support/processes.js';

const W = 168;
const SHIFT_FROM = '2017-07-01';

/** The second round's data: another +20% from this day on (on top of the first). */
const SECOND_SHIFT_FROM = '2016-07-01';
/** The worse challenger's data: rows before this day (its training split) come from a faulty meter. */
const FAULTY_UNTIL = '2017-06-10';

/**
 * The vendored CSV with rows up to `until` (exclusive); with `shift`, load × 1.2 from SHIFT_FROM
 * on; with `second`, × 1.2 again from SECOND_SHIFT_FROM; with `faulty`, the rows before
 * FAULTY_UNTIL oscillate ±30% (a meter fault in the history the next model trains on).
 */
function csv(until: string, shift: boolean, options: { second?: boolean; faulty?: boolean } = {}): string {
  const lines = PJME_TEXT.trim().split('\n');
  const rows = lines.slice(1).filter((line) => line < until);
  return [
    lines[0],
    ...rows.map((line, i) => {
      const [time, value] = line.split(',');
      let factor = 1;
      if (shift && line >= SHIFT_FROM) factor *= 1.2;
      if (options.second && line >= SECOND_SHIFT_FROM) factor *= 1.2;
      if (options.faulty && line < FAULTY_UNTIL) factor *= 1 + 0.3 * Math.sin(i / 5);
      return factor === 1 ? line : `${time},${(Number(value) * factor).toFixed(1)}`;
    }),
  ].join('\n');
}

describe('drift (real processes, real data)', { timeout: 240_000 }, () => {
  let cluster: TestCluster;
  /** The meter's inference token: once a policy uploads samples, the agent takes actuals only with one. */
  let meterToken: string;
  const api = <T>(method: string, route: string, body?: unknown) => cluster.api<T>(method, route, body);
  const cli = (args: string[]) => runFogline(args, cleanFoglineEnv({ FOGLINE_SERVER: cluster.url, FOGLINE_TOKEN: cluster.adminToken }));

  beforeAll(async () => {
    cluster = await TestCluster.start('drift');
    await cluster.uploadPjme(csv('2017-01-01', false));
    expect(await cluster.trainForecaster({ epochs: 4, hidden: [32], seed: 1 })).toBe(1);
    await cluster.setAlias('energy', 'champion', 1);
    // A promotion goes as a canary to the node that drifted first: a short soak keeps the test short.
    const created = await cli([
      'deploy',
      'create',
      '--name',
      'energy',
      '--model',
      'energy@champion',
      '--to',
      'site=plant-a',
      ...['--soak', '2s'],
    ]);
    expect(created.code, created.stderr).toBe(0);
    const policy = await cli([
      ...['drift', 'policy', 'set', 'energy', '--tests', 'wasserstein,error', '--action', 'retrain-and-promote'],
      ...['--min-samples', '48', '--report-interval', '1s', '--margin', '1%', '--cooldown', '1h'],
    ]);
    expect(policy.code, policy.stderr).toBe(0);
    expect(policy.stdout).toMatch(/Action:\s+retrain-and-promote \(margin 1\.0%\)/);
    // The false-alarm test's deployment: a second forecaster from the same data, the default policy.
    // Another seed: the same seed would make a byte-identical bundle to energy's.
    expect(await cluster.trainForecaster({ model: 'calm', epochs: 4, hidden: [32], seed: 2 })).toBe(1);
    await cluster.setAlias('calm', 'champion', 1);
    const calm = await cli(['deploy', 'create', '--name', 'calm', '--model', 'calm@champion', '--to', 'site=plant-a']);
    expect(calm.code, calm.stderr).toBe(0);
    // Defaults for every test setting; reports every second only so that the test is short.
    const calmPolicy = await cli(['drift', 'policy', 'set', 'calm', '--report-interval', '1s']);
    expect(calmPolicy.code, calmPolicy.stderr).toBe(0);
    const meter = await cli([
      ...['token', 'create', '--role', 'inference', '--name', 'meter'],
      ...['--deployment', 'energy', '--deployment', 'calm'],
    ]);
    expect(meter.code, meter.stderr).toBe(0);
    meterToken = meter.stdout.trim();
    // The data collected since (here: the whole series, shifted from SHIFT_FROM) is the dataset's next version.
    await cluster.uploadPjme(csv('2099-01-01', true));
    const joinToken = await cluster.joinToken(1);
    await cluster.startAgent('edge-1', { labels: 'site=plant-a', joinToken });
    await eventually(async () => ((await cluster.servedVersion('edge-1', 'energy')) === '1' ? true : undefined), 60_000);
    await eventually(async () => ((await cluster.servedVersion('edge-1', 'calm')) === '1' ? true : undefined), 60_000);
  }, 200_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  /**
   * Replays `series` from `fromIso` hour by hour into `model` on edge-1 (infer, then the actual of
   * the hour that just ended); every `every` hours, after `warmup`, waits for a report and asks
   * `stop` whether to end. Returns the hours replayed.
   */
  const replay = async (
    model: string,
    text: string,
    fromIso: string,
    maxHours: number,
    every: number,
    warmup: number,
    stop: () => Promise<boolean>,
  ): Promise<number> => {
    const series = parseTimeSeriesCsv(text, { timeColumn: 'Datetime', valueColumn: 'PJME_MW' });
    const agent = cluster.agents.get('edge-1')!.url;
    const first = Math.round((Date.parse(fromIso) / 1000 - series.start) / series.intervalSeconds);
    let hours = 0;
    for (let o = first; o < first + maxHours; o++) {
      const startTime = series.start + o * series.intervalSeconds;
      const answer = await requestJson(`${agent}/v2/models/${model}/infer`, {
        method: 'POST',
        body: {
          inputs: [
            { name: 'history', shape: [1, W], datatype: 'FP32', data: Array.from(series.values.subarray(o - W, o)) },
            { name: 'start_time', shape: [1], datatype: 'INT64', data: [startTime] },
          ],
        },
      });
      expect(answer.status).toBe(200);
      const actual = await requestJson<{ scored: number }>(`${agent}/v2/models/${model}/actuals`, {
        method: 'POST',
        token: meterToken,
        body: { start_time: startTime - series.intervalSeconds, values: [series.values[o - 1]] },
      });
      expect(actual.status).toBe(200);
      hours++;
      if (hours >= warmup && hours % every === 0) {
        // Reports go out every second: give the next one time to land.
        await new Promise((resolve) => setTimeout(resolve, 1500));
        if (await stop()) break;
      }
    }
    return hours;
  };
  const events = async (deployment: string) =>
    (await api<{ events: DriftEventView[] }>('GET', `/api/v1/drift/events?deployment=${deployment}`)).body.events;
  const settled = (id: string) =>
    eventually(
      async () => {
        const event = (await api<DriftEventView>('GET', `/api/v1/drift/events/${id}`)).body;
        return ['collecting', 'retraining', 'canary'].includes(event.status) ? undefined : event;
      },
      150_000,
      500,
    );

  it('replayed shifted load fires a drift event; the retrained challenger wins, is promoted and served', async () => {
    let fired: DriftEventView | undefined;
    const hours = await replay('energy', csv('2099-01-01', true), '2018-06-01T00:00:00Z', 400, 12, 48, async () => {
      fired = (await events('energy'))[0];
      return fired !== undefined;
    });
    expect(fired, 'no drift event after 400 replayed hours').toBeDefined();
    expect(fired!.findings.map((f) => f.test)).toContain('wasserstein');
    expect(fired!.nodeName).toBe('edge-1');
    console.log(`drift event after ${hours} replayed hours: ${fired!.timeline[0]?.message}`);

    const reports = (await api<{ reports: DriftReportView[] }>('GET', '/api/v1/drift/reports?deployment=energy')).body.reports;
    expect(reports[0]?.summary.features[0]?.count).toBeGreaterThanOrEqual(48);
    expect(reports[0]?.summary.error?.count).toBeGreaterThan(0);

    const done = await settled(fired!.id);
    console.log(done.timeline.map((t) => `${t.status}: ${t.message}`).join('\n'));
    expect(done.status).toBe('promoted');
    expect(done.evaluation).toMatchObject({ championVersion: 1, challengerVersion: 2, wins: true });
    expect(done.evaluation!.challengerMape).toBeLessThan(done.evaluation!.championMape * 0.99);
    await eventually(async () => ((await cluster.servedVersion('edge-1', 'energy')) === '2' ? true : undefined), 60_000);

    const timeline = await cli(['drift', 'events', '--deployment', 'energy', '--timeline']);
    expect(timeline.code, timeline.stderr).toBe(0);
    expect(timeline.stdout).toMatch(/promoted/);
    expect(timeline.stdout).toMatch(/energy@champion -> v2/);
  });

  it('a second round in a row promotes too (sedna#381: "the second round never deploys")', async () => {
    // Demand stepped up again; the samples since are the dataset's next version. The cooldown is
    // shortened so that the next drift event can fire at once.
    await cluster.uploadPjme(csv('2099-01-01', true, { second: true }));
    const policy = await cli(['drift', 'policy', 'set', 'energy', '--cooldown', '1s']);
    expect(policy.code, policy.stderr).toBe(0);
    const before = (await events('energy')).length;
    let fired: DriftEventView | undefined;
    const hours = await replay('energy', csv('2099-01-01', true, { second: true }), '2018-06-01T00:00:00Z', 400, 12, 48, async () => {
      const list = await events('energy');
      fired = list.length > before ? list[0] : undefined;
      return fired !== undefined;
    });
    // Back to a long cooldown: the worse-challenger test below starts its own round.
    expect((await cli(['drift', 'policy', 'set', 'energy', '--cooldown', '1h'])).code).toBe(0);
    expect(fired, 'no second drift event after 400 replayed hours').toBeDefined();
    expect(fired!.version).toBe(2);
    console.log(`second drift event after ${hours} replayed hours: ${fired!.timeline[0]?.message}`);
    const done = await settled(fired!.id);
    console.log(done.timeline.map((t) => `${t.status}: ${t.message}`).join('\n'));
    expect(done.status).toBe('promoted');
    expect(done.evaluation).toMatchObject({ championVersion: 2, challengerVersion: 3, wins: true });
    await eventually(async () => ((await cluster.servedVersion('edge-1', 'energy')) === '3' ? true : undefined), 60_000);
  });

  it('a worse challenger is not promoted: the event ends kept and says so; the champion keeps serving', async () => {
    // The next version's history comes from a faulty meter (±30%); its newest rows are right.
    await cluster.uploadPjme(csv('2099-01-01', true, { second: true, faulty: true }));
    const started = await cli(['drift', 'retrain', 'energy']);
    expect(started.code, started.stderr).toBe(0);
    const event = (await events('energy'))[0]!;
    expect(event.trigger).toBe('manual');
    const done = await settled(event.id);
    console.log(done.timeline.map((t) => `${t.status}: ${t.message}`).join('\n'));
    expect(done.status).toBe('kept');
    expect(done.evaluation).toMatchObject({ championVersion: 3, wins: false });
    expect(done.evaluation!.challengerMape).toBeGreaterThan(done.evaluation!.championMape);
    expect(done.timeline.at(-1)?.message).toMatch(/challenger loses: .*the champion stays/);
    const champion = await api<{ aliases: Record<string, number> }>('GET', '/api/v1/models/energy');
    expect(champion.body.aliases).toMatchObject({ champion: 3, challenger: done.evaluation!.challengerVersion });
    expect((await events('energy')).filter((e) => e.status === 'promoted')).toHaveLength(2);
    expect(await cluster.servedVersion('edge-1', 'energy')).toBe('3');
    const timeline = await cli(['drift', 'events', '--deployment', 'energy', '--timeline']);
    expect(timeline.code, timeline.stderr).toBe(0);
    expect(timeline.stdout).toMatch(/challenger loses/);

    // Prometheus: the events by status and trigger.
    const scrape = await fetch(`${cluster.url}/metrics`, { headers: { authorization: `Bearer ${cluster.adminToken}` } });
    const text = await scrape.text();
    expect(text).toMatch(/fogline_drift_events\{deployment="energy",status="promoted",trigger="drift",action="retrain-and-promote"\} 2/);
    expect(text).toMatch(/fogline_drift_events\{deployment="energy",status="kept",trigger="manual",action="retrain-and-promote"\} 1/);
    expect(text).toMatch(/fogline_drift_last_event_timestamp_seconds\{deployment="energy"\} \d+/);
  });

  it('with no shift, the default policy fires no drift event over a replayed month (false-alarm test)', async () => {
    const hours = await replay('calm', csv('2099-01-01', false), '2018-06-01T00:00:00Z', 720, 24, 24, async () => false);
    expect(hours).toBe(720);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const report = (await api<{ reports: DriftReportView[] }>('GET', '/api/v1/drift/reports?deployment=calm')).body.reports[0]!;
    // The error test had its say: enough scored forecasts, and the seasonal-naive MAPE beside them.
    expect(report.summary.error!.count).toBeGreaterThanOrEqual(100);
    expect(report.summary.error!.baselineMape).toBeGreaterThan(0);
    console.log(
      `calm month: error over ${report.summary.error!.windowHours} h ${report.summary.error!.mape.toFixed(2)}% (validation ${report.summary.error!.validationMape?.toFixed(2)}%, seasonal-naive ${report.summary.error!.baselineMape?.toFixed(2)}%)`,
    );
    expect(await events('calm')).toEqual([]);
    // Prometheus: the node's forecast error beside its references.
    const scrape = await fetch(`${cluster.url}/metrics`, { headers: { authorization: `Bearer ${cluster.adminToken}` } });
    const text = await scrape.text();
    for (const reference of ['edge', 'validation', 'seasonal_naive']) {
      expect(text).toMatch(
        new RegExp(`fogline_drift_forecast_error_mape\\{deployment="calm",node="edge-1",version="1",reference="${reference}"\\} [\\d.]+`),
      );
    }
    expect(text).not.toMatch(/fogline_drift_events\{deployment="calm"/);
  });

  it('with consent, the node uploads the actuals it is posted: a new dataset version with lineage to the node, which retraining uses', async () => {
    // The data the calm deployment retrains on ends with May 2018.
    await cluster.uploadPjme(csv('2018-06-01', false), 'calm-data');
    const versions = async () =>
      (await api<{ versions: DatasetVersionView[] }>('GET', '/api/v1/datasets/calm-data')).body.versions.sort(
        (a, b) => a.version - b.version,
      );
    const base = (await versions())[0]!;
    const policy = await cli(['drift', 'policy', 'set', 'calm', '--sample-upload', 'on', '--dataset', 'calm-data']);
    expect(policy.code, policy.stderr).toBe(0);
    expect(policy.stdout).toMatch(/Sample upload:\s+on/);
    // The next report's answer carries the consent: the node sends the actuals it keeps that the dataset lacks.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    // June again, without pauses (the node may hold it already from the false-alarm test: the same values).
    const hours = await replay('calm', csv('2099-01-01', false), '2018-06-01T00:00:00Z', 720, 100_000, 100_000, async () => false);
    expect(hours).toBe(720);
    // The replay posted the actuals of 2018-05-31 23:00 (in the dataset) .. 06-30 22:00: 719 new hours.
    const latest = await eventually(
      async () => {
        const all = await versions();
        const last = all.at(-1)!;
        return last.timeEnd === '2018-06-30T22:00:00.000Z' ? { all, last } : undefined;
      },
      30_000,
      500,
    );
    expect(latest.last.rowCount).toBe(base.rowCount + 719);
    expect(latest.last.source).toMatchObject({ kind: 'edge-samples', deployment: 'calm', node: 'edge-1' });
    expect(latest.last.source.basedOn).toMatch(/^calm-data@\d+$/);
    console.log(
      `samples: ${latest.all.length - 1} upload(s) made calm-data@${latest.last.version}: ${latest.all
        .slice(1)
        .map((v) => `${String(v.source.samples)} rows ${String(v.source.from)} .. ${String(v.source.to)}`)
        .join('; ')}`,
    );
    // The same actuals again (a client retrying): nothing new, no new version.
    const series = parseTimeSeriesCsv(csv('2099-01-01', false), { timeColumn: 'Datetime', valueColumn: 'PJME_MW' });
    const from = Math.round((Date.parse('2018-06-03T00:00:00Z') / 1000 - series.start) / series.intervalSeconds);
    const again = await requestJson(`${cluster.agents.get('edge-1')!.url}/v2/models/calm/actuals`, {
      method: 'POST',
      token: meterToken,
      body: { start_time: series.start + from * series.intervalSeconds, values: Array.from(series.values.subarray(from, from + 10)) },
    });
    expect(again.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect((await versions()).length).toBe(latest.all.length);

    // Retraining takes the dataset's newest version, the one the samples made.
    const retrain = await cli(['drift', 'retrain', 'calm']);
    expect(retrain.code, retrain.stderr).toBe(0);
    const event = (await events('calm'))[0]!;
    expect(event.runId).toBeTruthy();
    const run = await api<RunView>('GET', `/api/v1/runs/${event.runId}`);
    expect(run.body.dataset).toEqual({ name: 'calm-data', version: latest.last.version });
  });
  it('a policy with a schedule starts rounds by itself (trigger schedule), never while one is under way, and stops when turned off', async () => {
    // The manual round of the previous test ends first.
    await settled((await events('calm'))[0]!.id);
    const scheduledEvents = async () => (await events('calm')).filter((e) => e.trigger === 'schedule');
    const set = await cli(['drift', 'policy', 'set', 'calm', '--retrain-every', '4s', '--action', 'retrain']);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toMatch(/Schedule:\s+a round when none has started for 4s/);
    const first = await eventually(async () => (await scheduledEvents())[0], 30_000, 500);
    expect(first.action).toBe('retrain');
    expect(first.nodeId).toBeNull();
    expect(first.timeline[0]!.message).toMatch(/scheduled retraining/);
    const firstDone = await settled(first.id);
    expect(firstDone.runId).toBeTruthy();
    expect(firstDone.status).not.toBe('failed');
    // None started while the first was retraining; the next comes a period after it.
    const second = await eventually(async () => (await scheduledEvents()).find((e) => e.id !== first.id), 30_000, 500);
    expect(Date.parse(second.createdAt) - Date.parse(first.createdAt)).toBeGreaterThanOrEqual(4000);
    expect(Date.parse(second.createdAt)).toBeGreaterThanOrEqual(Date.parse(firstDone.updatedAt));
    const off = await cli(['drift', 'policy', 'set', 'calm', '--retrain-every', 'off']);
    expect(off.stdout).toMatch(/Schedule:\s+off/);
    await settled(second.id);
    await new Promise((resolve) => setTimeout(resolve, 6000));
    expect((await scheduledEvents()).map((e) => e.id).sort()).toEqual([first.id, second.id].sort());
  });
});
