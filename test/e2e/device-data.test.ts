/**
 * Device data over MQTT end to end (issue 18), with real processes and Debian's Mosquitto: a
 * control plane, a forecaster trained on PJM, and two agents — edge-1 on the machine's shared
 * broker (127.0.0.1:1883), edge-2 on a private broker with TLS and a password. `mosquitto_pub`
 * plays the devices (EdgeX v3 events, plain JSON) and `mosquitto_sub` the consumer. Steps run in
 * order and share one cluster.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatasetVersionView } from '../../src/contracts/datasets.js';
import type { DeploymentView } from '../../src/contracts/deployments.js';
import type { DriftReportView } from '../../src/contracts/drift.js';
import type { V2InferResponse } from '../../src/contracts/open-inference.js';
import { makeCertificates } from '../support/certificates.js';
import { FORECAST_WINDOW, PJME_SERIES, TestCluster } from '../support/cluster.js';
import { type BrokerAddress, edgexEvent, PrivateBroker, publishLines, SHARED_BROKER, Subscriber } from '../support/mqtt.js';
import { cleanFoglineEnv, eventually, requestJson, runFogline, tempDir } from '../support/processes.js';

interface EdgexResult {
  deviceName: string;
  sourceName: string;
  origin: number;
  readings: Array<{ resourceName: string; valueType: string; value: string }>;
  tags: { model: string; version: number; deployment: string; ranOn?: string };
}

const HOUR = 3600;
const prefix = `fogline-test-${randomUUID().slice(0, 8)}`;
const values = PJME_SERIES.values;
/** The series' time of point i (Unix seconds). */
const timeAt = (i: number) => PJME_SERIES.start + i * HOUR;
/** Point i as an EdgeX event of `device`, the value in EdgeX's e-notation. */
const event = (device: string, i: number) => edgexEvent(device, 'load', timeAt(i), values[i]!.toExponential(6));
const inputTopic = (device: string) => `${prefix}/edgex/events/device/modbus/meter/${device}/load`;
/** Results by device, each the input time (s) it answers, from the EdgeX events on the output topic. */
const resultTimes = (subscriber: Subscriber, device: string) =>
  subscriber
    .json<EdgexResult>()
    .filter((m) => m.body.deviceName === device)
    .map((m) => Math.round(Number(String(m.body.origin).slice(0, -6)) / 1000));

describe('device data over MQTT (real processes, real brokers)', { timeout: 240_000 }, () => {
  let cluster: TestCluster;
  let edge1Url: string;
  let results: Subscriber;
  let dead: Subscriber;
  let secureBroker: PrivateBroker;

  const deploy = async (args: string[]) => {
    const cli = await runFogline(
      ['deploy', 'create', ...args, '--wait', '--timeout', '90s'],
      cleanFoglineEnv({ FOGLINE_SERVER: cluster.url, FOGLINE_TOKEN: cluster.adminToken }),
    );
    expect(cli.code, cli.stderr).toBe(0);
    return cli.stdout;
  };

  beforeAll(async () => {
    cluster = await TestCluster.start('mqtt');
    await cluster.uploadPjme();
    expect(await cluster.trainForecaster({ seed: 1 })).toBe(1);
    await cluster.setAlias('energy', 'champion', 1);
    const certificates = makeCertificates(tempDir('fogline-mqtt-tls'), 'broker');
    secureBroker = await PrivateBroker.start({ tls: certificates, users: { 'plant-b': 's3cret-pass' } });
    secureBroker.clientArgs.push('--cafile', certificates.ca, '-u', 'plant-b', '-P', 's3cret-pass');
    const join = await cluster.joinToken(2);
    const edge1 = await cluster.startAgent('edge-1', {
      labels: 'site=a',
      joinToken: join,
      args: ['--mqtt-url', `mqtt://${SHARED_BROKER.host}:${SHARED_BROKER.port}`],
    });
    edge1Url = edge1.url;
    await cluster.startAgent('edge-2', {
      labels: 'site=b',
      joinToken: join,
      // The password comes from FOGLINE_MQTT_PASSWORD in real use; the flag works as well, and is never logged.
      args: [
        ...['--mqtt-url', `mqtts://127.0.0.1:${secureBroker.port}`, '--mqtt-username', 'plant-b', '--mqtt-password', 's3cret-pass'],
        ...['--mqtt-ca', certificates.ca, '--log-level', 'info'],
      ],
    });
    await cluster.nodesOnline(2);
    results = await Subscriber.start(SHARED_BROKER, `${prefix}/predictions/#`);
    dead = await Subscriber.start(SHARED_BROKER, `${prefix}/dead/#`);
    const shown = await deploy([
      ...['--name', 'meters', '--model', 'energy@champion', '--to', 'site=a'],
      ...['--mqtt-in', `${prefix}/edgex/events/device/+/+/+/load`, '--mqtt-out', `${prefix}/predictions/{deployment}/{device}`],
      ...['--mqtt-dead-letter', `${prefix}/dead/{deployment}`],
    ]);
    expect(shown).toMatch(/MQTT in:\s+fogline-test-\S+\/edgex\/events\/device\/\+\/\+\/\+\/load \(edgex\)/);
    // Set now, so that the agents report drift every second by the last step: their first report
    // (a second after they start) brings the policy's interval. Readings up to the dataset's end
    // upload nothing (it has them); those after it become new versions of the dataset.
    const policy = await cluster.api('PUT', '/api/v1/drift/policies/meters', { sampleUpload: true, reportIntervalSeconds: 1 });
    expect(policy.status, JSON.stringify(policy.body)).toBe(200);
  }, 300_000);

  afterAll(async () => {
    results?.stop();
    dead?.stop();
    await cluster?.stop();
    await secureBroker?.remove();
  });

  it('EdgeX readings in: a forecast per new hour once a week is known, for the right device, time and version, equal to /v2', async () => {
    const first = values.length - FORECAST_WINDOW - 2;
    publishLines(
      SHARED_BROKER,
      inputTopic('meter-1'),
      Array.from({ length: FORECAST_WINDOW + 2 }, (_, k) => event('meter-1', first + k)),
    );
    await results.waitFor(3);
    const answers = results.json<EdgexResult>().filter((m) => m.body.deviceName === 'meter-1');
    expect(answers.map((a) => a.topic)).toEqual(Array(3).fill(`${prefix}/predictions/meters/meter-1`));
    expect(resultTimes(results, 'meter-1')).toEqual([timeAt(values.length - 3), timeAt(values.length - 2), timeAt(values.length - 1)]);
    const last = answers[2]!.body;
    expect(last).toMatchObject({ sourceName: 'meters', tags: { model: 'energy', version: 1, deployment: 'meters', ranOn: 'edge' } });
    // The same window over HTTP gives the same numbers.
    const direct = await requestJson<V2InferResponse>(`${edge1Url}/v2/models/meters/infer`, {
      method: 'POST',
      body: {
        inputs: [
          {
            name: 'history',
            shape: [1, FORECAST_WINDOW],
            datatype: 'FP32',
            data: Array.from(values.subarray(values.length - FORECAST_WINDOW)),
          },
          { name: 'start_time', shape: [1], datatype: 'INT64', data: [timeAt(values.length)] },
        ],
      },
    });
    const forecast = last.readings.find((r) => r.resourceName === 'forecast')!;
    const mqttValues = JSON.parse(forecast.value) as number[];
    expect(mqttValues).toHaveLength(24);
    mqttValues.forEach((v, i) => expect(v).toBeCloseTo(direct.body.outputs[0]!.data[i] as number, 0));
  });

  it('bad messages go to the dead-letter topic with their reason and the stream goes on', async () => {
    const topic = inputTopic('meter-9');
    publishLines(SHARED_BROKER, topic, [
      '{"apiVersion":"v3", "readings": [',
      edgexEvent('meter-9', 'load', timeAt(0), 'hello', 'String'),
      edgexEvent('meter-9', 'load', timeAt(1), 'NaN'),
      '{"device":"meter-9","time":1,"value":3}',
    ]);
    await dead.waitFor(4);
    const reasons = dead.json<{ reason: string; message: string; deployment: string }>().map((m) => m.body);
    expect(reasons.map((r) => r.reason)).toEqual(['malformed-json', 'wrong-value-type', 'not-finite', 'not-an-event']);
    expect(reasons.every((r) => r.deployment === 'meters' && r.message.length > 10)).toBe(true);
    // The binding still works: meter-1's next hour is forecast.
    const before = results.messages.length;
    publishLines(SHARED_BROKER, inputTopic('meter-1'), [
      edgexEvent('meter-1', 'load', timeAt(values.length), values.at(-1)!.toExponential(6)),
    ]);
    await results.waitFor(before + 1);
    const metrics = await (await fetch(`${edge1Url}/metrics`)).text();
    expect(metrics).toMatch(/fogline_mqtt_dead_letters_total\{deployment="meters",reason="not-finite"\} 1/);
    expect(metrics).toMatch(/fogline_mqtt_connected 1/);
  });

  it('plain JSON readings in and out', async () => {
    await deploy([
      ...['--name', 'meters-json', '--model', 'energy@1', '--to', 'site=a', '--format', 'json'],
      ...['--mqtt-in', `${prefix}/json/+`, '--mqtt-out', `${prefix}/predictions/{deployment}/{device}`],
    ]);
    const start = values.length - FORECAST_WINDOW - 1;
    publishLines(
      SHARED_BROKER,
      `${prefix}/json/boiler-2`,
      Array.from({ length: FORECAST_WINDOW + 1 }, (_, k) =>
        JSON.stringify({ device: 'boiler-2', time: timeAt(start + k), value: values[start + k] }),
      ),
    );
    await eventually(async () => {
      const json = results
        .json<{ device?: string; time?: number; outputs?: Record<string, number[]> }>()
        .filter((m) => m.body.device === 'boiler-2');
      return json.length >= 2 ? json : undefined;
    }, 30_000);
    const json = results
      .json<{ device: string; time: number; version: number; outputs: Record<string, number[]> }>()
      .filter((m) => m.body.device === 'boiler-2');
    expect(json.map((m) => m.body.time)).toEqual([timeAt(values.length - 2), timeAt(values.length - 1)]);
    expect(json[0]!.body.outputs.forecast).toHaveLength(24);
  });

  it('a new version swapped in mid-stream: every hour is answered, first by v1, then by v2', async () => {
    const v2 = await cluster.trainForecaster({ seed: 2 });
    const device = 'meter-swap';
    const start = 0;
    publishLines(
      SHARED_BROKER,
      inputTopic(device),
      Array.from({ length: FORECAST_WINDOW }, (_, k) => event(device, start + k)),
    );
    await eventually(async () => (resultTimes(results, device).length >= 1 ? true : undefined), 30_000);
    let next = start + FORECAST_WINDOW;
    let moved = false;
    // One reading every 50 ms while the alias moves to v2 and the node loads it.
    const until = Date.now() + 60_000;
    while (Date.now() < until) {
      publishLines(SHARED_BROKER, inputTopic(device), [event(device, next++)]);
      if (!moved && next - start - FORECAST_WINDOW === 20) {
        await cluster.setAlias('energy', 'champion', v2);
        moved = true;
      }
      const versions = results
        .json<EdgexResult>()
        .filter((m) => m.body.deviceName === device)
        .map((m) => m.body.tags.version);
      if (moved && versions.slice(-5).every((v) => v === v2) && versions.length >= 25) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await eventually(async () => (resultTimes(results, device).length >= next - start - FORECAST_WINDOW + 1 ? true : undefined), 30_000);
    const answered = results.json<EdgexResult>().filter((m) => m.body.deviceName === device);
    expect(resultTimes(results, device)).toEqual(
      Array.from({ length: next - start - FORECAST_WINDOW + 1 }, (_, k) => timeAt(start + FORECAST_WINDOW - 1 + k)),
    );
    const versions = answered.map((m) => m.body.tags.version);
    expect(versions[0]).toBe(1);
    expect(versions.at(-1)).toBe(v2);
    // Once v2 answers, v1 never does again.
    expect(versions.slice(versions.indexOf(v2))).toEqual(Array(versions.length - versions.indexOf(v2)).fill(v2));
  });

  it('an agent killed mid-stream (kill -9) resumes: the broker keeps what came meanwhile, and every hour is answered', async () => {
    const device = 'meter-kill';
    const total = FORECAST_WINDOW + 80;
    publishLines(
      SHARED_BROKER,
      inputTopic(device),
      Array.from({ length: total - 40 }, (_, k) => event(device, k)),
    );
    await eventually(async () => (resultTimes(results, device).length >= 1 ? true : undefined), 30_000, 20);
    const agent = cluster.agents.get('edge-1')!;
    agent.process.child.kill('SIGKILL');
    await new Promise((resolve) => agent.process.child.once('exit', resolve));
    // Published while the agent is down: the broker keeps them for its persistent session.
    publishLines(
      SHARED_BROKER,
      inputTopic(device),
      Array.from({ length: 40 }, (_, k) => event(device, total - 40 + k)),
    );
    edge1Url = (
      await cluster.startAgent('edge-1', {
        args: ['--mqtt-url', `mqtt://${SHARED_BROKER.host}:${SHARED_BROKER.port}`, '--log-level', 'info'],
      })
    ).url;
    const expected = Array.from({ length: total - FORECAST_WINDOW + 1 }, (_, k) => timeAt(FORECAST_WINDOW - 1 + k));
    await eventually(async () => (new Set(resultTimes(results, device)).size >= expected.length ? true : undefined), 60_000).catch(
      (error: unknown) => {
        const seen = new Set(resultTimes(results, device));
        console.log(
          cluster.agents.get('edge-1')!.process.output().slice(-5000),
          seen.size,
          JSON.stringify(expected.filter((t) => !seen.has(t)).map((t) => (t - timeAt(0)) / HOUR)),
        );
        throw error;
      },
    );
    expect([...new Set(resultTimes(results, device))].sort((a, b) => a - b)).toEqual(expected);
  });

  it('a broker with TLS and a password, restarted mid-stream: no reading is lost', async () => {
    await deploy([
      ...['--name', 'meters-b', '--model', 'energy@1', '--to', 'site=b'],
      ...['--mqtt-in', 'plant-b/+/load', '--mqtt-out', 'plant-b/predictions/{device}'],
    ]);
    const broker: BrokerAddress = secureBroker.address;
    const session = `results-${prefix}`;
    const out = await Subscriber.start(broker, 'plant-b/predictions/#', session);
    const total = FORECAST_WINDOW + 300;
    publishLines(
      broker,
      'plant-b/meter-b/load',
      Array.from({ length: total }, (_, k) => event('meter-b', k)),
    );
    // Mid-stream: the broker stops (saving its sessions and queued messages) and comes back.
    await eventually(async () => (out.messages.length >= 3 ? true : undefined), 30_000, 10);
    await secureBroker.stop();
    out.stop();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await secureBroker.restart();
    const again = await Subscriber.start(broker, 'plant-b/predictions/#', session);
    const expected = Array.from({ length: total - FORECAST_WINDOW + 1 }, (_, k) => timeAt(FORECAST_WINDOW - 1 + k));
    const answered = () => new Set([...resultTimes(out, 'meter-b'), ...resultTimes(again, 'meter-b')]);
    await eventually(async () => (answered().size >= expected.length ? true : undefined), 90_000, 200);
    expect([...answered()].sort((a, b) => a - b)).toEqual(expected);
    again.stop();
    // The node reports its counts with its deployment status: connected again, nothing left in its buffer.
    const view = await eventually(async () => {
      const { body } = await cluster.api<DeploymentView>('GET', '/api/v1/deployments/meters-b');
      const counts = body.nodes[0]?.mqtt;
      return counts && counts.predictions >= expected.length && counts.connected && counts.buffered === 0 ? body : undefined;
    }, 30_000);
    expect(view.mqtt).toMatchObject({ input: 'plant-b/+/load', format: 'edgex', deadLetter: 'fogline/dead-letter/{deployment}' });
    // QoS 1 is at least once: the restarted broker sends again what the agent had not acknowledged
    // (counted again as messages, answered once: the results above are exactly one per hour).
    expect(view.nodes[0]!.mqtt).toMatchObject({ deadLetters: 0 });
    expect(view.nodes[0]!.mqtt!.messages).toBeGreaterThanOrEqual(total);
    // The password never reaches the agent's log (info level: it logs its broker and subscriptions).
    const log = cluster.agents.get('edge-2')!.process.output();
    expect(log).toContain('connected to the MQTT broker');
    expect(log).not.toContain('s3cret-pass');
  });

  it('readings double as actuals: the node scores its forecasts against the hours that followed, and with consent they become a dataset version', async () => {
    // meter-1's window ends where the dataset ends (the first step): 30 new hours after it, each the
    // same hour a week before, so that every forecast made on the way is scored by the readings after it.
    const hours = 30;
    const datasetVersions = async () =>
      (await cluster.api<{ versions: DatasetVersionView[] }>('GET', '/api/v1/datasets/pjme')).body.versions;
    // The dataset as uploaded (version 1): an earlier step's reading may already have added the first hour after it.
    const uploaded = (await datasetVersions()).at(-1)!;
    const after = (k: number) =>
      edgexEvent('meter-1', 'load', timeAt(values.length + k), values[values.length - 168 + k]!.toExponential(6));
    publishLines(
      SHARED_BROKER,
      inputTopic('meter-1'),
      Array.from({ length: hours }, (_, k) => after(k)),
    );
    // No HTTP client posted an actual: the node's drift summary has scored forecasts all the same.
    const report = await eventually(async () => {
      const { body } = await cluster.api<{ reports: DriftReportView[] }>('GET', '/api/v1/drift/reports?deployment=meters');
      const error = body.reports[0]?.summary.error;
      return error && error.count > 0 ? body.reports[0]! : undefined;
    }, 60_000);
    expect(report.nodeName).toBe('edge-1');
    expect(report.summary.error!.mape).toBeGreaterThan(0);
    expect(report.summary.error!.mape).toBeLessThan(50);
    // The policy consents to samples: the readings after the dataset's end arrive as its next version, from the node.
    const end = timeAt(values.length - 1);
    const versions = await eventually(async () => {
      const all = await datasetVersions();
      return Date.parse(all[0]!.timeEnd!) / 1000 === end + hours * HOUR ? all : undefined;
    }, 60_000);
    // The node uploads after each report (every second here): the hours may come in more than one version.
    const added = versions.filter((v) => v.version > uploaded.version);
    expect(added.length).toBeGreaterThan(0);
    for (const v of added) expect(v.source).toMatchObject({ kind: 'edge-samples', node: 'edge-1' });
    expect(versions[0]!.rowCount - uploaded.rowCount).toBe(hours);
  });
});
