/**
 * Joint inference end to end, with real processes: a control plane on SQLite and one agent. Two
 * digit classifiers are trained on the vendored optdigits (8×8) data: a small edge model (8
 * hidden units, 20 epochs) and a larger cloud model. The small one is deployed with the CLI's
 * --joint-* flags (hard rows → the large one), and once more without (edge only, for comparison).
 * Labelled digits go through the agent's V2 endpoint, one per request and in batches: every
 * request succeeds, some rows but not all are answered by the cloud, the final answers are at
 * least as accurate as the edge model's on the same digits, and the agent's /metrics and the
 * deployment's status count the same rows. With the control plane stopped, requests still succeed
 * from the edge, hard rows counted as fallbacks. Steps run in order and share one cluster.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeploymentView } from '../../src/contracts/deployments.js';
import type { V2InferResponse } from '../../src/contracts/open-inference.js';
import { TestCluster } from '../support/cluster.js';
import { cleanFoglineEnv, ensureStopped, eventually, requestJson, runFogline } from '../support/processes.js';

const DIGITS_CSV = fs.readFileSync(fileURLToPath(new URL('../../data/optdigits/optdigits.csv', import.meta.url)), 'utf8');
/** Every 6th digit of the file (300 images): pixels 0–16 and the true class. */
const DIGITS = DIGITS_CSV.trim()
  .split('\n')
  .filter((_, i) => i % 6 === 0)
  .map((line) => {
    const values = line.split(',').map(Number);
    return { pixels: values.slice(0, 64), label: values[64]! };
  });
const THRESHOLD = 0.3;

interface Digit {
  pixels: number[];
  label: number;
}

/** What one row's answer said: the class picked, and easy / hard / fallback. */
interface RowAnswer {
  predicted: number;
  outcome: string;
  label: number;
}

describe('joint inference (real processes)', { timeout: 300_000 }, () => {
  let cluster: TestCluster;
  let agentUrl: string;
  const sent: RowAnswer[] = [];

  const api = <T>(method: string, route: string, body?: unknown) => cluster.api<T>(method, route, body);

  async function infer(deployment: string, digits: Digit[]) {
    const request = {
      inputs: [{ name: 'image', shape: [digits.length, 8, 8, 1], datatype: 'FP32', data: digits.flatMap((d) => d.pixels) }],
      outputs: [{ name: 'label' }],
      parameters: { 'fogline.label': digits.length === 1 ? digits[0]!.label : digits.map((d) => d.label) },
    };
    const { status, body } = await requestJson<V2InferResponse>(`${agentUrl}/v2/models/${deployment}/infer`, {
      method: 'POST',
      body: request,
      timeoutMs: 15_000,
    });
    return { status, body };
  }

  /** Sends `digits` as single-row requests and batches of 10; every answer row with the digit's label. */
  async function sendAll(
    deployment: string,
    digits: Digit[],
  ): Promise<{ statuses: number[]; rows: RowAnswer[]; bodies: V2InferResponse[] }> {
    const statuses: number[] = [];
    const rows: RowAnswer[] = [];
    const bodies: V2InferResponse[] = [];
    const groups = [
      ...digits.slice(0, 50).map((d) => [d]),
      ...Array.from({ length: (digits.length - 50) / 10 }, (_, i) => digits.slice(50 + i * 10, 60 + i * 10)),
    ];
    for (const group of groups) {
      const { status, body } = await infer(deployment, group);
      statuses.push(status);
      bodies.push(body);
      if (status !== 200) continue;
      const predicted = body.outputs[0]!.data as number[];
      const outcomes = (body.parameters?.['fogline.joint_rows'] as string[] | undefined) ?? group.map(() => 'edge-only');
      group.forEach((digit, r) => rows.push({ predicted: predicted[r]!, outcome: outcomes[r]!, label: digit.label }));
    }
    return { statuses, rows, bodies };
  }

  const metric = (text: string, name: string, labels: string) => {
    const match = new RegExp(`^${name}\\{${labels}\\} (\\d+)$`, 'm').exec(text);
    return match ? Number(match[1]) : 0;
  };

  const train = (model: string, params: object) => cluster.train({ pipeline: 'image-classifier', dataset: 'digits', model, params });

  beforeAll(async () => {
    cluster = await TestCluster.start('joint');
    const upload = await fetch(`${cluster.url}/api/v1/datasets/digits/versions?kind=image-csv&imageHeight=8&imageWidth=8`, {
      method: 'POST',
      headers: { authorization: `Bearer ${cluster.adminToken}`, 'content-type': 'text/csv' },
      body: DIGITS_CSV,
    });
    expect(upload.status).toBe(201);
    const agent = cluster.startAgent('edge-1', { labels: 'site=plant-a', joinToken: await cluster.joinToken(1) });
    expect(await train('digits-small', { hidden: [8], epochs: 20, dropout: 0, seed: 1 })).toBe(1);
    expect(await train('digits-large', { hidden: [64], epochs: 30, dropout: 0, seed: 1 })).toBe(1);
    await cluster.setAlias('digits-large', 'champion', 1);
    agentUrl = (await agent).url;
    await cluster.nodesOnline(1);

    const cli = await runFogline(
      [
        ...['deploy', 'create', '--name', 'digits', '--model', 'digits-small@1', '--to', 'site=plant-a'],
        ...['--joint-cloud-model', 'digits-large@champion', '--joint-rule', 'confidence', '--joint-threshold', String(THRESHOLD)],
        ...['--wait', '--timeout', '60s'],
      ],
      cleanFoglineEnv({ FOGLINE_SERVER: cluster.url, FOGLINE_TOKEN: cluster.adminToken }),
    );
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/Joint:\s+hard rows \(confidence > 0\.3\) to digits-large@champion \(now version 1\)/);
    const plain = await api<DeploymentView>('POST', '/api/v1/deployments', {
      name: 'digits-edge',
      model: 'digits-small@1',
      nodeSelector: { site: 'plant-a' },
    });
    expect(plain.status).toBe(201);
    // Ready without sending a row (a probe row would be counted).
    await eventually(async () => {
      const ready = await Promise.all(
        ['digits', 'digits-edge'].map((name) => fetch(`${agentUrl}/v2/models/${name}/ready`).catch(() => undefined)),
      );
      return ready.every((r) => r?.status === 200) ? true : undefined;
    }, 60_000);
  }, 300_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('sends only hard digits to the cloud model, fails none, and ends at least as accurate as the edge model alone', async () => {
    const joint = await sendAll('digits', DIGITS);
    expect(joint.statuses.filter((s) => s !== 200)).toEqual([]);
    sent.push(...joint.rows);
    expect(sent).toHaveLength(DIGITS.length);
    const hard = sent.filter((r) => r.outcome === 'hard').length;
    const easy = sent.filter((r) => r.outcome === 'easy').length;
    expect(hard).toBeGreaterThan(0);
    expect(easy).toBeGreaterThan(0);
    expect(hard + easy).toBe(DIGITS.length);
    // Single-row answers say who answered: the cloud model's version for a hard row, the edge's for an easy one.
    const singles = joint.bodies.slice(0, 50);
    for (const body of singles) {
      const outcome = (body.parameters?.['fogline.joint_rows'] as string[])[0];
      expect(body.parameters).toMatchObject({ 'fogline.joint': outcome, 'fogline.ran_on': outcome === 'hard' ? 'cloud' : 'edge' });
      if (outcome === 'hard')
        expect(body.parameters).toMatchObject({ 'fogline.cloud_model': 'digits-large', 'fogline.cloud_model_version': '1' });
    }

    const edge = await sendAll('digits-edge', DIGITS);
    expect(edge.statuses.filter((s) => s !== 200)).toEqual([]);
    const accuracy = (rows: RowAnswer[]) => rows.filter((r) => r.predicted === r.label).length / rows.length;
    const edgeAccuracy = accuracy(edge.rows);
    const finalAccuracy = accuracy(sent);
    console.log(
      `joint inference on ${DIGITS.length} digits: ${hard} hard (${((hard / DIGITS.length) * 100).toFixed(1)}% to the cloud); ` +
        `accuracy edge alone ${(edgeAccuracy * 100).toFixed(1)}%, joint ${(finalAccuracy * 100).toFixed(1)}%`,
    );
    expect(finalAccuracy).toBeGreaterThanOrEqual(edgeAccuracy);

    // The agent counted the same rows, and the same edge correctness as the edge-only deployment shows.
    const metrics = await (await fetch(`${agentUrl}/metrics`)).text();
    expect(metric(metrics, 'fogline_joint_samples_total', 'deployment="digits",outcome="hard"')).toBe(hard);
    expect(metric(metrics, 'fogline_joint_samples_total', 'deployment="digits",outcome="easy"')).toBe(easy);
    expect(metric(metrics, 'fogline_joint_labelled_samples_total', 'deployment="digits"')).toBe(DIGITS.length);
    expect(metric(metrics, 'fogline_joint_correct_samples_total', 'deployment="digits",answer="edge"')).toBe(
      edge.rows.filter((r) => r.predicted === r.label).length,
    );
    expect(metric(metrics, 'fogline_joint_correct_samples_total', 'deployment="digits",answer="final"')).toBe(
      sent.filter((r) => r.predicted === r.label).length,
    );
    expect(metrics).toMatch(/fogline_offload_requests_total\{deployment="digits",outcome="offloaded",reason="hard-example"\} \d+/);

    // The node reports the counts with its deployment status (about every 10 s): the API shows the offload rate and accuracy gained.
    const node = await eventually(async () => {
      const { body } = await api<DeploymentView>('GET', '/api/v1/deployments/digits');
      const reported = body.nodes[0]?.joint;
      return reported && reported.labelled >= DIGITS.length ? reported : undefined;
    }, 30_000);
    expect(node.finalAccuracy).toBeCloseTo(finalAccuracy, 6);
    expect(node.edgeAccuracy).toBeCloseTo(edgeAccuracy, 6);
    expect(node.offloadRate).toBeGreaterThan(0);
    expect(node.offloadRate).toBeLessThan(1);
  });

  it('with the control plane stopped, every request still succeeds from the edge, hard rows counted as fallbacks', async () => {
    await ensureStopped(cluster.server);
    const { statuses, rows, bodies } = await sendAll('digits', DIGITS.slice(0, 100));
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(bodies.every((b) => b.parameters?.['fogline.ran_on'] === 'edge')).toBe(true);
    expect(rows.some((r) => r.outcome === 'fallback')).toBe(true);
    expect(rows.every((r) => r.outcome === 'easy' || r.outcome === 'fallback')).toBe(true);
    // The hard rows of before are the fallbacks now: the edge model decides the same way.
    const before = sent.slice(0, 100).map((r) => (r.outcome === 'hard' ? 'fallback' : r.outcome));
    expect(rows.map((r) => r.outcome)).toEqual(before);
    const metrics = await (await fetch(`${agentUrl}/metrics`)).text();
    expect(metric(metrics, 'fogline_joint_samples_total', 'deployment="digits",outcome="fallback"')).toBe(
      before.filter((o) => o === 'fallback').length,
    );
  });
});
