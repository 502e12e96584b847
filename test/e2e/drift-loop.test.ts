/**
 * The drift loop end to end, with real processes and the real PJM East series, on two nodes:
 * a forecaster trained on January–June 2017 serves `energy` on edge-1 and edge-2 under a
 * `retrain-and-promote` policy that consents to sample upload. From July 2017 the load at
 * edge-1's site is 20% higher; edge-2 keeps seeing the load it was trained on.
 *
 * edge-1's meter posts the actual load of the months since (its samples become the dataset's
 * next versions, with lineage to the node); then a client asks edge-1 for forecasts hour by hour.
 * The drift event comes from edge-1; the round waits for edge-1's newest samples, retrains on the
 * version they made (warm-started from the champion's weights), scores the challenger beside the
 * champion, and sends it as a canary to edge-1 first, then to edge-2 once the canary soaked
 * healthy. edge-1's forecasts of the shifted load are then better than before. One timeline on
 * the event shows every step in order.
 *
 * Then a second round whose canary fails: edge-1's disk is full (a tmpfs with room for what it
 * holds), so it cannot take the new version; the rollout rolls back, the alias returns to the
 * champion, edge-2 never sees the challenger, and the event ends `rolled-back`.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatasetVersionView } from '../../src/contracts/datasets.js';
import type { DeploymentView } from '../../src/contracts/deployments.js';
import type { DriftEventView, DriftReportView } from '../../src/contracts/drift.js';
import type { RunView } from '../../src/contracts/runs.js';
import { parseTimeSeriesCsv } from '../../src/ml/timeseries/ingest.js';
import type { RegularSeries } from '../../src/ml/timeseries/series-types.js';
import { PJME_TEXT, TestCluster } from '../support/cluster.js';
import { cleanFoglineEnv, eventually, requestJson, runFogline, stopProcess } from '../support/processes.js';

const W = 168;
const H = 24;
const SHIFT_FROM = '2017-07-01';
/** Hours of edge-1's meter readings posted before any forecast is asked for. */
const BACKFILL_HOURS = 3000;

/** The vendored CSV rows in [from, until); with `shift`, load × 1.2 from SHIFT_FROM on. */
function csv(from: string, until: string, shift: boolean): string {
  const lines = PJME_TEXT.trim().split('\n');
  const rows = lines.slice(1).filter((line) => line >= from && line < until);
  return [
    lines[0],
    ...rows.map((line) => {
      if (!shift || line < SHIFT_FROM) return line;
      const [time, value] = line.split(',');
      return `${time},${(Number(value) * 1.2).toFixed(1)}`;
    }),
  ].join('\n');
}

const parse = (text: string) => parseTimeSeriesCsv(text, { timeColumn: 'Datetime', valueColumn: 'PJME_MW' });
const indexOf = (series: RegularSeries, iso: string) => Math.round((Date.parse(iso) / 1000 - series.start) / series.intervalSeconds);

/** Mean absolute percentage error of 24-hour forecasts made at `origins`. */
function mape(series: RegularSeries, forecasts: Map<number, number[]>): number {
  let sum = 0;
  let n = 0;
  for (const [o, forecast] of forecasts) {
    for (let h = 0; h < H; h++) {
      const actual = series.values[o + h];
      if (actual === undefined || o + h >= series.values.length) continue;
      sum += Math.abs((forecast[h]! - actual) / actual);
      n++;
    }
  }
  return (100 * sum) / n;
}

describe('drift loop on two nodes (real processes, real data)', { timeout: 420_000 }, () => {
  let cluster: TestCluster;
  /** The meter's inference token: the policy uploads samples, so the agent takes actuals only with one. */
  let meterToken: string;
  const api = <T>(method: string, route: string, body?: unknown) => cluster.api<T>(method, route, body);
  const cli = (args: string[]) => runFogline(args, cleanFoglineEnv({ FOGLINE_SERVER: cluster.url, FOGLINE_TOKEN: cluster.adminToken }));
  /** edge-1's load: shifted from July 2017. edge-2's: as it was. */
  const shifted = parse(csv('2016-01-01', '2099-01-01', true));
  const calm = parse(csv('2016-01-01', '2099-01-01', false));
  const nodeIds = new Map<string, string>();

  /** Seeded draws of origins in [fromIso, untilIso) of `series`. */
  const drawFrom = (series: RegularSeries, fromIso: string, untilIso: string) => {
    const from = indexOf(series, fromIso);
    const span = indexOf(series, untilIso) - from;
    let seed = 7;
    return () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return from + (seed % span);
    };
  };

  const versions = async () =>
    (await api<{ versions: DatasetVersionView[] }>('GET', '/api/v1/datasets/pjme')).body.versions.sort((a, b) => a.version - b.version);
  const events = async () => (await api<{ events: DriftEventView[] }>('GET', '/api/v1/drift/events?deployment=energy')).body.events;
  const event = async (id: string) => (await api<DriftEventView>('GET', `/api/v1/drift/events/${id}`)).body;

  /** One forecast from `agent` at origin `o` of `series`; then the actual of the hour before it. Returns the forecast. */
  const step = async (
    agent: string,
    series: RegularSeries,
    o: number,
    postActual = true,
  ): Promise<{ version: string; forecast: number[] }> => {
    const url = cluster.agents.get(agent)!.url;
    const startTime = series.start + o * series.intervalSeconds;
    const answer = await requestJson<{ model_version: string; outputs: { data: number[] }[] }>(`${url}/v2/models/energy/infer`, {
      method: 'POST',
      body: {
        inputs: [
          { name: 'history', shape: [1, W], datatype: 'FP32', data: Array.from(series.values.subarray(o - W, o)) },
          { name: 'start_time', shape: [1], datatype: 'INT64', data: [startTime] },
        ],
      },
    });
    expect(answer.status).toBe(200);
    if (postActual) {
      const actual = await requestJson(`${url}/v2/models/energy/actuals`, {
        method: 'POST',
        token: meterToken,
        body: { start_time: startTime - series.intervalSeconds, values: [series.values[o - 1]] },
      });
      expect(actual.status).toBe(200);
    }
    return { version: answer.body.model_version, forecast: answer.body.outputs[0]!.data };
  };

  beforeAll(async () => {
    cluster = await TestCluster.start('drift-loop');
    // The dataset the champion trains on, and retraining appends to: January–June 2017.
    await cluster.uploadPjme(csv('2017-01-01', SHIFT_FROM, false));
    expect(await cluster.trainForecaster({ epochs: 8, hidden: [32], seed: 1 })).toBe(1);
    await cluster.setAlias('energy', 'champion', 1);
    // Strategy `all`: without the drift round's preference, a new version would go to both nodes at once.
    const created = await cli(['deploy', 'create', '--name', 'energy', '--model', 'energy@champion', '--to', 'site=plant', '--soak', '6s']);
    expect(created.code, created.stderr).toBe(0);
    const policy = await cli([
      ...[
        'drift',
        'policy',
        'set',
        'energy',
        '--tests',
        'wasserstein',
        '--wasserstein-threshold',
        '0.2',
        '--action',
        'retrain-and-promote',
      ],
      ...['--min-samples', '96', '--report-interval', '1s', '--margin', '1%', '--cooldown', '1h', '--sample-upload', 'on'],
    ]);
    expect(policy.code, policy.stderr).toBe(0);
    // The policy uploads samples: the meter posts actuals with an inference token for energy.
    const meter = await cli(['token', 'create', '--role', 'inference', '--deployment', 'energy', '--name', 'meter']);
    expect(meter.code, meter.stderr).toBe(0);
    meterToken = meter.stdout.trim();
    const joinToken = await cluster.joinToken(2);
    await cluster.startAgent('edge-1', { labels: 'site=plant', joinToken });
    await cluster.startAgent('edge-2', { labels: 'site=plant', joinToken });
    for (const agent of ['edge-1', 'edge-2']) {
      await eventually(async () => ((await cluster.servedVersion(agent, 'energy')) === '1' ? true : undefined), 60_000);
    }
    const nodes = (await api<{ nodes: { id: string; name: string }[] }>('GET', '/api/v1/nodes')).body.nodes;
    for (const node of nodes) nodeIds.set(node.name, node.id);
  }, 240_000);

  let mounted: string | undefined;
  afterAll(async () => {
    if (mounted) execFileSync('umount', ['-l', mounted]);
    await cluster?.stop();
  });

  it('drift on one node → its samples → retraining on them (warm start) → canary on that node → everywhere; MAPE down; one timeline', async () => {
    // 1. edge-1's meter posts the load since the dataset's end; with consent, it becomes the dataset's next version(s).
    const first = indexOf(shifted, `${SHIFT_FROM}T00:00:00Z`);
    const backfill = await requestJson<{ scored: number }>(`${cluster.agents.get('edge-1')!.url}/v2/models/energy/actuals`, {
      method: 'POST',
      token: meterToken,
      body: {
        start_time: shifted.start + first * shifted.intervalSeconds,
        values: Array.from(shifted.values.subarray(first, first + BACKFILL_HOURS)),
      },
    });
    expect(backfill.status).toBe(200);
    const lastBackfilled = new Date((shifted.start + (first + BACKFILL_HOURS - 1) * shifted.intervalSeconds) * 1000).toISOString();
    const afterBackfill = await eventually(async () => {
      const last = (await versions()).at(-1)!;
      return last.timeEnd === lastBackfilled ? last : undefined;
    }, 60_000);
    expect(afterBackfill.source).toMatchObject({
      kind: 'edge-samples',
      deployment: 'energy',
      node: 'edge-1',
      nodeId: nodeIds.get('edge-1'),
    });
    expect(await events()).toEqual([]);

    // 2. A client asks both nodes for forecasts hour by hour: edge-1 on its shifted load, edge-2 on the load it knows.
    const before = new Map<number, number[]>();
    const origin = first + BACKFILL_HOURS;
    // edge-2's requests: hours drawn (seeded) from the range the champion trained on, as they were.
    const calmOrigin = drawFrom(calm, '2017-01-08T00:00:00Z', '2017-05-11T00:00:00Z');
    let fired: DriftEventView | undefined;
    let hours = 0;
    for (let o = origin; o < origin + 400 && !fired; o++) {
      before.set(o, (await step('edge-1', shifted, o)).forecast);
      await step('edge-2', calm, calmOrigin());
      hours++;
      if (hours >= 96 && hours % 12 === 0) {
        await new Promise((resolve) => setTimeout(resolve, 1500));
        fired = (await events())[0];
      }
    }
    expect(fired, 'no drift event after 400 replayed hours').toBeDefined();
    expect(fired!.nodeName).toBe('edge-1');
    console.log(`drift event from edge-1 after ${hours} replayed hours: ${fired!.timeline[0]?.message}`);

    // 3. The round moves on through samples, retraining, evaluation and the canary.
    const canary = await eventually(
      async () => {
        const e = await event(fired!.id);
        return ['collecting', 'retraining'].includes(e.status) ? undefined : e;
      },
      240_000,
      500,
    );
    console.log(canary.timeline.map((t) => `${t.status}: ${t.message}`).join('\n'));
    expect(canary.status, canary.timeline.at(-1)?.message).toBe('canary');
    expect(canary.evaluation).toMatchObject({ championVersion: 1, challengerVersion: 2, wins: true });
    // The deployment shows which nodes get it first (until the rollout completes).
    const during = (await api<DeploymentView>('GET', '/api/v1/deployments/energy')).body;
    expect(during.rollout.preferredCanary).toEqual({ version: 2, nodes: [nodeIds.get('edge-1')] });

    // The run trained on the version edge-1's samples made after the event, from the champion's weights.
    const run = (await api<RunView>('GET', `/api/v1/runs/${canary.runId}`)).body;
    const trainedOn = (await versions()).find((v) => v.version === run.dataset.version)!;
    expect(trainedOn.source).toMatchObject({ kind: 'edge-samples', node: 'edge-1', nodeId: nodeIds.get('edge-1') });
    expect(trainedOn.version).toBeGreaterThan(afterBackfill.version);
    expect(canary.timeline.map((t) => t.message).join('\n')).toContain(`appended as pjme@${trainedOn.version}`);
    expect(run.params).toMatchObject({ warmStartFrom: 1 });
    const challenger = await api<{ lineage: { dataset: { name: string; version: number } } }>('GET', '/api/v1/models/energy/versions/2');
    expect(challenger.body.lineage.dataset).toMatchObject({ name: 'pjme', version: trainedOn.version });

    // 4. v2 serves on edge-1 (the node that drifted) first, then on edge-2 too.
    const seen: string[] = [];
    await eventually(
      async () => {
        const pair = `${await cluster.servedVersion('edge-1', 'energy')}/${await cluster.servedVersion('edge-2', 'energy')}`;
        if (seen.at(-1) !== pair) seen.push(pair);
        return pair === '2/2' ? true : undefined;
      },
      120_000,
      200,
    );
    console.log(`versions served (edge-1/edge-2) as the canary went out: ${seen.join(' → ')}`);
    expect(seen).toContain('2/1');
    expect(seen).not.toContain('1/2');
    const done = await eventually(
      async () => {
        const e = await event(fired!.id);
        return e.status === 'canary' ? undefined : e;
      },
      60_000,
      500,
    );
    expect(done.status).toBe('promoted');
    // The drift service saw the rollout complete: the deployment's history shows the canary, then everyone.
    const deployment = (await api<DeploymentView>('GET', '/api/v1/deployments/energy')).body;
    const rollout = deployment.rollout.history.filter((h) => h.version === 2).map((h) => h.event);
    expect(rollout).toEqual(['started', 'canary-healthy', 'promoted', 'completed']);
    expect(deployment.rollout.preferredCanary).toBeNull();
    expect(deployment.rollout.history.find((h) => h.version === 2)?.message).toContain(nodeIds.get('edge-1'));

    // 5. The next 400 shifted hours on edge-1, now served by v2, beside v1 on the same hours (the
    // control plane's /v2 endpoint serves any registered version: what edge-1 would have answered
    // had the champion stayed). The edge MAPE is lower than the champion's.
    const after = new Map<number, number[]>();
    const stayed = new Map<number, number[]>();
    const next = origin + hours;
    for (let o = next; o < next + 400; o++) {
      const answer = await step('edge-1', shifted, o);
      expect(answer.version).toBe('2');
      after.set(o, answer.forecast);
      const champion = await requestJson<{ outputs: { data: number[] }[] }>(`${cluster.url}/v2/models/energy/versions/1/infer`, {
        method: 'POST',
        token: cluster.adminToken,
        body: {
          inputs: [
            { name: 'history', shape: [1, W], datatype: 'FP32', data: Array.from(shifted.values.subarray(o - W, o)) },
            { name: 'start_time', shape: [1], datatype: 'INT64', data: [shifted.start + o * shifted.intervalSeconds] },
          ],
        },
      });
      expect(champion.status).toBe(200);
      stayed.set(o, champion.body.outputs[0]!.data);
    }
    const mapeBefore = mape(shifted, before);
    const mapeAfter = mape(shifted, after);
    const mapeStayed = mape(shifted, stayed);
    console.log(
      `edge-1 MAPE on the shifted load: v1 ${mapeBefore.toFixed(2)}% on the ${before.size} h before the event; on the next 400 h v2 (served) ${mapeAfter.toFixed(2)}% vs v1 (had it stayed) ${mapeStayed.toFixed(2)}%`,
    );
    expect(mapeAfter).toBeLessThan(mapeStayed);

    // 6. One timeline, every step in order (the API and the CLI).
    const statuses = done.timeline.map((t) => t.status).filter((s, i, all) => s !== all[i - 1]);
    expect(statuses).toEqual(['collecting', 'retraining', 'canary', 'promoted']);
    const messages = done.timeline.map((t) => t.message);
    const expected = [
      /^drift on /,
      /^samples from edge-1: \d+ row\(s\) .* appended as pjme@\d+$/,
      /^retraining energy on pjme@\d+ warm-started from v1's weights \(run \w+\)$/,
      /registered as challenger/,
      /^challenger wins: .*energy@champion -> v2: canary on edge-1 \(drifted\) first/,
      /^canary healthy: /,
      /^every node serves v2 \(the canary soaked healthy first\)$/,
    ];
    expect(messages).toHaveLength(expected.length);
    expected.forEach((pattern, i) => expect(messages[i]).toMatch(pattern));
    const timeline = await cli(['drift', 'events', '--deployment', 'energy', '--timeline']);
    expect(timeline.code, timeline.stderr).toBe(0);
    for (const step of ['collecting', 'retraining', 'canary', 'promoted']) expect(timeline.stdout).toContain(step);
    expect(timeline.stdout).toMatch(/canary on edge-1 \(drifted\) first/);
  });
  it('a canary that fails on the drifted node rolls back: the alias returns, the other node never serves it, the event ends rolled-back', async () => {
    // A bad value changes nothing; this round retrains from scratch (--warm-start off).
    const bad = await api<{ code: string }>('PUT', '/api/v1/drift/policies/energy', { warmStart: 'yes', cooldownSeconds: 1 });
    expect(bad).toMatchObject({ status: 400, body: { code: 'FOGLINE_ERR_REQUEST_INVALID' } });
    expect((await api<{ warmStart: boolean; cooldownSeconds: number }>('GET', '/api/v1/drift/policies/energy')).body).toMatchObject({
      warmStart: true,
      cooldownSeconds: 3600,
    });
    const policy = await cli(['drift', 'policy', 'set', 'energy', '--cooldown', '1s', '--warm-start', 'off']);
    expect(policy.code, policy.stderr).toBe(0);
    expect(policy.stdout).toMatch(/Warm start:\s+off/);
    // edge-1's disk fills up: its artifacts folder becomes a tmpfs with room for what it holds and no more.
    const edge1 = cluster.agents.get('edge-1')!;
    await stopProcess(edge1.process);
    const artifacts = path.join(edge1.dataDir, 'artifacts');
    const held = fs.readdirSync(artifacts).map((name) => ({ name, bytes: fs.readFileSync(path.join(artifacts, name)) }));
    fs.rmSync(artifacts, { recursive: true });
    fs.mkdirSync(artifacts);
    const pages = held.reduce((sum, f) => sum + Math.ceil(f.bytes.length / 4096), 0) + 2;
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${pages * 4096}`, 'tmpfs', artifacts]);
    mounted = artifacts;
    for (const f of held) fs.writeFileSync(path.join(artifacts, f.name), f.bytes);
    const end = (await versions()).at(-1)!;
    const from = indexOf(shifted, end.timeEnd!) + 1;
    const restarted = Date.now();
    await cluster.startAgent('edge-1', { labels: 'site=plant' });
    await eventually(async () => ((await cluster.servedVersion('edge-1', 'energy')) === '2' ? true : undefined), 60_000);
    // edge-1's load steps up again (+20% on the +20%) from the hour after the dataset's end; its meter posts 4,000 hours.
    const again: RegularSeries = { ...shifted, values: Float64Array.from(shifted.values, (v, i) => (i >= from ? v * 1.2 : v)) };
    const backfill = await requestJson(`${cluster.agents.get('edge-1')!.url}/v2/models/energy/actuals`, {
      method: 'POST',
      token: meterToken,
      body: { start_time: again.start + from * again.intervalSeconds, values: Array.from(again.values.subarray(from, from + 4000)) },
    });
    expect(backfill.status).toBe(200);
    // The restarted agent watches v2 again: its report counts the requests made since (the
    // backfill above came right after its first answer, while it read the bundle's manifest).
    await eventually(async () => {
      // A forecast at the data's end (not a request for another time: the window is in data time).
      await step('edge-1', shifted, from, false);
      const reports = (await api<{ reports: DriftReportView[] }>('GET', '/api/v1/drift/reports?deployment=energy')).body.reports;
      const report = reports.find((r) => r.nodeName === 'edge-1');
      return report && report.version === 2 && report.summary.rows > 0 && Date.parse(report.receivedAt) > restarted ? true : undefined;
    }, 30_000);

    const lastBackfilled = new Date((again.start + (from + 3999) * again.intervalSeconds) * 1000).toISOString();
    await eventually(async () => ((await versions()).at(-1)!.timeEnd === lastBackfilled ? true : undefined), 60_000);

    // Forecasts again: edge-1 on its load, edge-2 on hours from the range v2 trained on.
    const before = (await events()).length;
    const calmOrigin = drawFrom(shifted, '2017-01-08T00:00:00Z', '2017-08-10T00:00:00Z');
    let fired: DriftEventView | undefined;
    let hours = 0;
    for (let o = from + 4000; o < from + 4400 && !fired; o++) {
      await step('edge-1', again, o);
      await step('edge-2', shifted, calmOrigin());
      hours++;
      if (hours >= 96 && hours % 12 === 0) {
        await new Promise((resolve) => setTimeout(resolve, 1500));
        const list = await events();
        fired = list.length > before ? list[0] : undefined;
      }
    }
    expect(fired, 'no second drift event after 400 replayed hours').toBeDefined();
    expect(fired!).toMatchObject({ nodeName: 'edge-1', version: 2 });

    // edge-2 must never serve the challenger.
    const edge2Versions = new Set<string>();
    const done = await eventually(
      async () => {
        edge2Versions.add(await cluster.servedVersion('edge-2', 'energy'));
        const e = await event(fired!.id);
        return ['collecting', 'retraining', 'canary'].includes(e.status) ? undefined : e;
      },
      240_000,
      300,
    );
    console.log(done.timeline.map((t) => `${t.status}: ${t.message}`).join('\n'));
    expect(done.status, done.timeline.at(-1)?.message).toBe('rolled-back');
    // The challenger is whatever version this round registered (another round between the two
    // cases, one that lost its evaluation, may have taken a number).
    expect(done.evaluation).toMatchObject({ championVersion: 2, wins: true });
    const challenger = done.evaluation!.challengerVersion;
    expect(challenger).toBeGreaterThan(2);
    const statuses = done.timeline.map((t) => t.status).filter((st, i, all) => st !== all[i - 1]);
    expect(statuses).toEqual(['collecting', 'retraining', 'canary', 'rolled-back']);
    expect(done.timeline.map((t) => t.message)).toContainEqual(expect.stringMatching(/^retraining energy on pjme@\d+ \(run \w+\)$/));
    expect(done.timeline.at(-1)!.message).toMatch(
      new RegExp(
        `^canary failed: version ${challenger} rolled back to 2: node .* failed to serve it .*energy@champion -> v2 again: the champion stays$`,
      ),
    );
    const model = await api<{ aliases: Record<string, number> }>('GET', '/api/v1/models/energy');
    expect(model.body.aliases).toMatchObject({ champion: 2, challenger });
    for (const agent of ['edge-1', 'edge-2']) expect(await cluster.servedVersion(agent, 'energy')).toBe('2');
    expect([...edge2Versions]).toEqual(['2']);
    // The alias moved back: the rollout returns to v2 (its next step, if it has not taken it yet).
    const deployment = await eventually(async () => {
      const d = (await api<DeploymentView>('GET', '/api/v1/deployments/energy')).body;
      return d.rollout.phase === 'stable' ? d : undefined;
    }, 30_000);
    expect(deployment.rollout.history.filter((h) => h.version === challenger).map((h) => h.event)).toEqual(['started', 'rolled-back']);
    expect(deployment.rollout).toMatchObject({ phase: 'stable', stableVersion: 2 });
    const timeline = await cli(['drift', 'events', '--deployment', 'energy', '--timeline']);
    expect(timeline.stdout).toMatch(/rolled-back\s+canary failed/);
  });
});
