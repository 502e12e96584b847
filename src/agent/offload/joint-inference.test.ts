import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { DesiredDeployment } from '../../contracts/deployments.js';
import type { V2InferRequest, V2InferResponse } from '../../contracts/open-inference.js';
import { type InferenceCall, inferenceCall, type InferenceResult, toV2Response } from '../../inference/inference-call.js';
import { isMlInputError } from '../../ml/errors.js';
import type { DeployedModels } from '../runtime/deployed-models.js';
import type { DeploymentJoint } from './offload-settings.js';
import { type JointEvent, type OffloadEvent, OffloadingModels } from './offloading-models.js';

const JOINT: DeploymentJoint = {
  model: 'digits-large',
  version: 4,
  rule: 'confidence',
  threshold: 0.3,
  inferPath: '/v2/models/digits-large/versions/4/infer',
};

/** A two-class edge classifier: row value v gives probabilities [v, 1 − v] (class 0 when v > 0.5). */
function edgeModels(): DeployedModels & { calls: number } {
  const fake = {
    calls: 0,
    serving: () => undefined,
    queue: () => ({ version: 2, waiting: 0, busy: false, batchMs: 1, maxBatchSize: 8 }),
    infer: async (call: InferenceCall): Promise<InferenceResult> => {
      fake.calls += 1;
      const values = call.inputs[0]!.data as number[];
      return {
        modelName: call.name,
        modelVersion: '2',
        outputs: [
          { name: 'probabilities', shape: [values.length, 2], datatype: 'FP32', data: values.flatMap((v) => [v, 1 - v]) },
          { name: 'label', shape: [values.length], datatype: 'INT64', data: values.map((v) => (v > 0.5 ? 0 : 1)) },
        ],
      };
    },
  };
  return fake as unknown as DeployedModels & { calls: number };
}

/** The cloud model on a stand-in /v2: always sure of class 1; records the rows it was sent. */
async function cloudModel(status = 200): Promise<{ url: string; rows: number[][]; close(): Promise<void> }> {
  const rows: number[][] = [];
  const server = http.createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const parsed = JSON.parse(body) as V2InferRequest;
      const values = parsed.inputs[0]!.data as number[];
      rows.push(values);
      response.writeHead(status, { 'content-type': 'application/json' });
      const n = values.length;
      const outputs = [
        { name: 'probabilities', shape: [n, 2], datatype: 'FP32', data: values.flatMap(() => [0, 1]) },
        { name: 'label', shape: [n], datatype: 'INT64', data: values.map(() => 1) },
      ];
      response.end(JSON.stringify(status === 200 ? { model_name: 'digits-large', model_version: '4', outputs } : { error: 'boom' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, rows, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

const request = (values: number[], label?: unknown): V2InferRequest => ({
  id: 'q',
  ...(label === undefined ? {} : { parameters: { 'fogline.label': label } }),
  inputs: [{ name: 'x', shape: [values.length, 1], datatype: 'FP32', data: values }],
});

/** One request through `offloading`, answered as the V2 routes would write it. */
async function ask(offloading: OffloadingModels, body: V2InferRequest): Promise<V2InferResponse> {
  return toV2Response(await offloading.infer(inferenceCall('digits', undefined, body)), body.id);
}

describe('joint inference in OffloadingModels', () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });

  function joint(models: DeployedModels, server: string) {
    const routed: OffloadEvent[] = [];
    const joints: JointEvent[] = [];
    const offloading = new OffloadingModels(models, {
      observer: { routed: (e) => routed.push(e), joint: (e) => joints.push(e) },
      cloudTimeoutMs: 500,
    });
    offloading.connect({ server, credential: 'fgl.node.secret', nodeName: 'edge-1' });
    offloading.settings.configure({ name: 'digits', joint: JOINT } as DesiredDeployment);
    return { offloading, routed, joints };
  }

  it('a batch: only the hard rows go to the cloud model; its answers replace the edge rows; labels count edge and final correctness', async () => {
    const cloud = await cloudModel();
    closers.push(cloud.close);
    const { offloading, routed, joints } = joint(edgeModels(), cloud.url);
    // Confidence 1 − max(v, 1 − v): 0.95 → 0.05 (easy), 0.6 → 0.4 (hard), 0.1 → 0.1 (easy), 0.45 → 0.45 (hard).
    const answer = await ask(offloading, request([0.95, 0.6, 0.1, 0.45], [0, 1, 1, 1]));
    expect(cloud.rows).toEqual([[0.6, 0.45]]);
    expect(answer.outputs.find((o) => o.name === 'label')?.data).toEqual([0, 1, 1, 1]);
    expect(answer.outputs.find((o) => o.name === 'probabilities')?.data).toEqual([0.95, 0.050000000000000044, 0, 1, 0.1, 0.9, 0, 1]);
    expect(answer).toMatchObject({
      model_name: 'digits',
      model_version: '2',
      id: 'q',
      parameters: {
        'fogline.ran_on': 'cloud',
        'fogline.joint': 'hard',
        'fogline.joint_rows': ['easy', 'hard', 'easy', 'hard'],
        'fogline.cloud_model': 'digits-large',
        'fogline.cloud_model_version': '4',
        'fogline.node': 'edge-1',
      },
    });
    // The edge got row 1 (0.6 → class 0) wrong; the cloud got it right: 3 of 4 edge, 4 of 4 final.
    expect(joints).toEqual([{ deployment: 'digits', easy: 2, hard: 2, fallback: 0, labelled: 4, edgeCorrect: 3, finalCorrect: 4 }]);
    expect(routed).toEqual([{ deployment: 'digits', outcome: 'offloaded', reason: 'hard-example' }]);
  });

  it('one row: a hard one is answered by the cloud with its version, an easy one by the edge; the client’s outputs are kept', async () => {
    const cloud = await cloudModel();
    closers.push(cloud.close);
    const { offloading } = joint(edgeModels(), cloud.url);
    const hard = await ask(offloading, { ...request([0.55], 1), outputs: [{ name: 'label' }] });
    expect(hard).toMatchObject({ model_version: '4', parameters: { 'fogline.ran_on': 'cloud', 'fogline.joint': 'hard' } });
    expect(hard.outputs).toEqual([{ name: 'label', shape: [1], datatype: 'INT64', data: [1] }]);
    const easy = await ask(offloading, request([0.99], 0));
    expect(easy).toMatchObject({
      model_version: '2',
      parameters: { 'fogline.ran_on': 'edge', 'fogline.joint': 'easy', 'fogline.joint_rows': ['easy'] },
    });
    expect(easy.parameters?.['fogline.cloud_model']).toBeUndefined();
    expect(offloading.ranWhere('digits')).toEqual({
      local: 1,
      offloaded: 1,
      joint: { easy: 1, hard: 1, fallback: 0, labelled: 2, edgeCorrect: 1, finalCorrect: 2 },
    });
  });

  it('the cloud failing or gone: every request still gets the edge answer, counted as fallback', async () => {
    for (const status of [500, undefined]) {
      const cloud = await cloudModel(status ?? 200);
      if (status === undefined) await cloud.close();
      else closers.push(cloud.close);
      const { offloading, joints, routed } = joint(edgeModels(), cloud.url);
      for (let i = 0; i < 5; i++) {
        const answer = await ask(offloading, request([0.9, 0.5], [0, 1]));
        expect(answer).toMatchObject({ model_version: '2', parameters: { 'fogline.ran_on': 'edge', 'fogline.joint': 'fallback' } });
        expect(answer.outputs.find((o) => o.name === 'label')?.data).toEqual([0, 1]);
      }
      expect(joints.every((e) => e.easy === 1 && e.fallback === 1 && e.hard === 0)).toBe(true);
      expect(routed.every((e) => e.outcome === 'fallback' && e.reason === 'hard-example')).toBe(true);
      expect(offloading.breakerState()).toBe('open');
      expect(offloading.ranWhere('digits')?.joint).toMatchObject({ easy: 5, fallback: 5, hard: 0 });
    }
  });

  it('labels that do not fit the batch are refused (400) before any model runs, and nothing is counted', async () => {
    const cloud = await cloudModel();
    closers.push(cloud.close);
    const models = edgeModels();
    const { offloading, joints } = joint(models, cloud.url);
    await expect(ask(offloading, request([0.5, 0.5], 1))).rejects.toSatisfy(isMlInputError);
    await expect(ask(offloading, request([0.5], 'one'))).rejects.toSatisfy(isMlInputError);
    expect(models.calls).toBe(0);
    expect(cloud.rows).toEqual([]);
    expect(joints).toEqual([]);
    expect(offloading.ranWhere('digits')).toBeUndefined();
  });
});
