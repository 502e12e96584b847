/**
 * Samples bounded on both sides, end to end with a real control plane and a real agent: the
 * agent refuses actuals whose times are not Unix seconds up to now (`start_time: 1e300` made
 * every later upload of the agent fail with a 500, so its valid samples never arrived); rows the
 * control plane refuses (a load of -5 or 123,456,789) are dropped by the agent, the rows beside
 * them are kept, and the actuals posted later still arrive.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatasetVersionView } from '../../src/contracts/datasets.js';
import { TestCluster } from '../support/cluster.js';
import { eventually, requestJson } from '../support/processes.js';

const HOUR = 3600;

describe('sample upload from a real agent (bounded, nothing valid lost)', { timeout: 240_000 }, () => {
  let cluster: TestCluster;
  let agent: string;
  let end: number;
  /** The meter's inference token: actuals need one while the policy uploads samples. */
  let meter: string;

  const actuals = (startTime: number, values: number[], intervalSeconds?: number) =>
    requestJson<{ scored: number; error?: string }>(`${agent}/v2/models/energy/actuals`, {
      method: 'POST',
      token: meter,
      body: { start_time: startTime, values, ...(intervalSeconds ? { interval_seconds: intervalSeconds } : {}) },
    });
  const latest = async () => (await cluster.api<{ versions: DatasetVersionView[] }>('GET', '/api/v1/datasets/pjme')).body.versions[0]!;
  const endOf = (view: DatasetVersionView) => Date.parse(view.timeEnd!) / 1000;

  beforeAll(async () => {
    cluster = await TestCluster.start('drift-samples');
    await cluster.uploadPjme();
    expect(await cluster.trainForecaster({ epochs: 1, hidden: [8], seed: 1 })).toBe(1);
    await cluster.setAlias('energy', 'champion', 1);
    const created = await cluster.api('POST', '/api/v1/deployments', {
      name: 'energy',
      model: 'energy@champion',
      nodeSelector: { site: 'a' },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const policy = await cluster.api('PUT', '/api/v1/drift/policies/energy', { sampleUpload: true, reportIntervalSeconds: 1 });
    expect(policy.status, JSON.stringify(policy.body)).toBe(200);
    agent = (await cluster.startAgent('edge-1', { labels: 'site=a', joinToken: await cluster.joinToken(1) })).url;
    await eventually(async () => ((await cluster.servedVersion('edge-1', 'energy')) === '1' ? true : undefined), 60_000);
    end = endOf(await latest());
    meter = (await cluster.api<{ token: string }>('POST', '/api/v1/tokens', { name: 'meter', role: 'inference', deployments: ['energy'] }))
      .body.token;
    // The token reaches the agent with its next desired state.
    await eventually(async () => ((await actuals(1e300, [30_000])).status === 401 ? undefined : true), 30_000);
  }, 200_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('the agent refuses actuals whose times are not Unix seconds up to now, with a 400', async () => {
    for (const startTime of [1e300, -3600, Math.floor(Date.now() / 1000) + 2 * 86_400, 8.64e12]) {
      const answer = await actuals(startTime, [30_000]);
      expect(answer.status, `${startTime}: ${JSON.stringify(answer.body)}`).toBe(400);
      expect(answer.body.error).toMatch(/not in Unix seconds from 1970 up to now/);
    }
    // Values spread over an interval that runs past now are refused too.
    expect((await actuals(end + HOUR, [1, 2], 1e15)).status).toBe(400);
  });

  it('drops the rows the control plane refuses, keeps the others, and the later actuals still arrive', async () => {
    expect((await actuals(end + HOUR, [30_000, -5, 31_000, 123_456_789, 32_000])).status).toBe(200);
    // Rows 0, 2 and 4 make the next version; -5 and 123,456,789 are refused (outside the training data's band).
    const first = await eventually(async () => {
      const view = await latest();
      return endOf(view) === end + 5 * HOUR ? view : undefined;
    }, 60_000);
    expect(first.source).toMatchObject({ kind: 'edge-samples', node: 'edge-1', samples: 3 });
    // The agent dropped the refused rows: the next upload carries only what was posted since.
    expect((await actuals(end + 6 * HOUR, [33_000, 34_000])).status).toBe(200);
    const second = await eventually(async () => {
      const view = await latest();
      return endOf(view) === end + 7 * HOUR ? view : undefined;
    }, 60_000);
    expect(second.source).toMatchObject({ kind: 'edge-samples', samples: 2 });
    expect(second.rowCount).toBe(first.rowCount + 2);
    const log = cluster.agents.get('edge-1')!.process.output();
    expect(log.match(/drift samples: 2 refused and dropped/g)).toHaveLength(1);
    expect(log).toMatch(/samples\[1\] \(time [^)]*, value -5\): outside 0 \.\. /);
  });
});
