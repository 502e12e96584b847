/**
 * Federated learning with real processes: a control plane and four `fogline agent`s on loopback,
 * each holding a label-skewed (non-IID) share of the digits set that never leaves it. The job
 * completes; an agent killed mid-job and a control plane killed and restarted mid-job do not stop
 * it; a NaN update is rejected; the registered model beats a client's locally-trained-only model
 * on the union test set and serves like any other version.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/client/api-client.js';
import type { FederatedJobView } from '../../src/contracts/federated.js';
import { loadBundle } from '../../src/ml/bundle/load-bundle.js';
import { evaluateWeights, trainClientUpdate } from '../../src/ml/federated/client-update.js';
import { clientMatrices, digitsModelSpec, initialWeights } from '../../src/ml/federated/federated-model.js';
import { labelSkewPartition } from '../../src/ml/federated/partition.js';
import { encodeUpdate } from '../../src/ml/federated/update-codec.js';
import { parseImageCsv } from '../../src/ml/image/image-csv.js';
import { stratifiedSplit } from '../../src/ml/image/stratified-split.js';
import { readDataFile } from '../../src/ml/test-support/data-files.js';
import { TestCluster } from '../support/cluster.js';
import { cleanFoglineEnv, eventually, type FoglineProcess, runFogline, tempDir } from '../support/processes.js';

const AGENTS = 4;
const ROUNDS = 8;
const LOCAL = { localEpochs: 2, batchSize: 16, learningRate: 0.1 };

describe('federated learning (real processes)', { timeout: 180_000 }, () => {
  let cluster: TestCluster;
  const dataDir = tempDir('fl-data');
  const digits = parseImageCsv(readDataFile('optdigits/optdigits.csv'), { height: 8, width: 8 });
  // The union test set: 20% of every class, held by no client.
  const split = stratifiedSplit(digits.labels, 10, 0.2, 0.01, 7);
  const pool = Int32Array.from([...split.train, ...split.validation]).sort();
  const parts = labelSkewPartition(
    Int32Array.from(pool, (r) => digits.labels[r]!),
    AGENTS,
    2,
    3,
  ).map((rows) => Int32Array.from(rows, (i) => pool[i]!));
  const csvOf = (rows: Int32Array) =>
    Array.from(rows, (r) => [...digits.pixels.subarray(r * 64, r * 64 + 64), digits.labels[r]].join(',')).join('\n') + '\n';
  const testRows = split.test;
  let admin: ApiClient;
  const agents: FoglineProcess[] = [];
  let jobId: string;
  let fakeNode: { nodeId: string; credential: string };

  beforeAll(async () => {
    cluster = await TestCluster.start('fl');
    admin = new ApiClient({ server: cluster.url, token: cluster.adminToken });
    const join = await admin.createToken({ name: 'fl-agents', role: 'join', maxUses: AGENTS + 1 });
    parts.forEach((rows, k) => fs.writeFileSync(path.join(dataDir, `site-${k + 1}.csv`), csvOf(rows)));
    const started = await Promise.all(
      parts.map((_, k) =>
        cluster.startAgent(`site-${k + 1}`, {
          labels: `site=s${k + 1},fl=yes`,
          joinToken: join.token,
          // Info level: the tests read each agent's node id and URL from its log.
          args: ['--fl-data', path.join(dataDir, `site-${k + 1}.csv`), '--log-level', 'info'],
        }),
      ),
    );
    agents.push(...started.map((a) => a.process));
    await Promise.all(agents.map((a) => a.waitForOutput(/agent started/, 30_000)));
    // A fifth client under the test's control, to send a poisoned (NaN) update.
    const enrolled = await new ApiClient({ server: cluster.url }).enroll(join.token, {
      name: 'mallory',
      role: 'edge',
      labels: { fl: 'yes' },
    });
    fakeNode = { nodeId: enrolled.nodeId, credential: enrolled.credential };
  }, 90_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  const job = () => admin.getFederatedJob(jobId);

  it('starts a job over the agents; a NaN update is rejected and recorded', async () => {
    // The union test set as a central dataset: the control plane scores every round's model on it.
    const testCsv = new Blob([csvOf(testRows)]).stream() as ReadableStream<Uint8Array>;
    await admin.pushDataset('digits-test', testCsv, { kind: 'image-csv', imageHeight: 8, imageWidth: 8 });
    const mallory = new ApiClient({ server: cluster.url, token: fakeNode.credential });
    await mallory.federatedTasks(fakeNode.nodeId, 0); // seen: available for round 1
    const started = await admin.startFederatedJob({
      model: 'digits-fl',
      datasetKind: 'digits',
      nodeSelector: { fl: 'yes' },
      rounds: ROUNDS,
      strategy: 'fedavg',
      minFitClients: 3,
      fractionFit: 1,
      quorum: 0.5,
      roundTimeoutSeconds: 10,
      evaluationDataset: 'digits-test',
      ...LOCAL,
    });
    jobId = started.id;
    expect(started.status).toBe('running');
    const { tasks } = await mallory.federatedTasks(fakeNode.nodeId, 20);
    const task = tasks.find((t) => t.jobId === jobId);
    expect(task).toBeDefined();
    const weights = await mallory.federatedWeights(task!.weightsPath);
    expect(weights.length).toBeGreaterThan(4810 * 4);
    const poisoned = new Float32Array(4810).fill(0.01);
    poisoned[17] = Number.NaN;
    const refused = await mallory
      .sendFederatedUpdate(task!.updatePath, encodeUpdate(poisoned, 'float32', { examples: 100 }))
      .catch((e) => e);
    expect(refused.status).toBe(400);
    expect(refused.code).toBe('FOGLINE_ERR_FL_UPDATE_REJECTED');
    const view = await job();
    const report = view.rounds!.flatMap((r) => r.reports).find((r) => r.nodeId === fakeNode.nodeId);
    expect(report?.status).toBe('rejected');
    expect(report?.reason).toMatch(/non-finite/);

    // A node credential acts only as its own node; bad settings are refused before anything starts.
    const otherNode = view.rounds![0]!.sampled.find((c) => c.nodeId !== fakeNode.nodeId)!.nodeId;
    const forbidden = await mallory.federatedTasks(otherNode, 0).catch((e) => e);
    expect(forbidden.code).toBe('FOGLINE_ERR_AUTH_FORBIDDEN');
    const invalid = await admin.startFederatedJob({ model: 'x', datasetKind: 'digits', strategy: 'sgd' as never }).catch((e) => e);
    expect(invalid.status).toBe(400);
    const noScaler = await admin.startFederatedJob({ model: 'x', datasetKind: 'forecast' }).catch((e) => e);
    expect(noScaler.code).toBe('FOGLINE_ERR_FL_JOB_INVALID');
  });

  it('keeps going with quorum when an agent is killed mid-job, and resumes after a control-plane restart', async () => {
    await eventually(async () => ((await job()).roundsCompleted >= 2 ? true : undefined), 60_000, 300);
    agents[3]!.child.kill('SIGKILL');
    await eventually(async () => ((await job()).roundsCompleted >= 4 ? true : undefined), 60_000, 300);
    const before = await job();
    cluster.server.child.kill('SIGKILL');
    await cluster.server.exited;
    await cluster.startServer();
    const done = await eventually(
      async () => {
        const view = await job();
        if (view.status === 'running') return undefined;
        return view;
      },
      120_000,
      500,
    );
    expect(done.status, JSON.stringify({ phase: done.phase, error: done.error })).toBe('succeeded');
    expect(done.roundsCompleted).toBe(ROUNDS);
    // Resumed, not restarted: the rounds completed before the restart are still there, once each.
    const aggregated = done.rounds!.filter((r) => r.status === 'aggregated');
    expect(aggregated.map((r) => r.round)).toEqual(Array.from({ length: ROUNDS }, (_, i) => i + 1));
    expect(aggregated.slice(0, before.roundsCompleted).map((r) => r.finishedAt)).toEqual(
      before.rounds!.filter((r) => r.status === 'aggregated').map((r) => r.finishedAt),
    );
    // The killed agent was dropped from a round, and later rounds went on without it.
    const dead = agents[3]!.output().match(/"nodeId":"([^"]+)"/)?.[1];
    const lastRounds = aggregated.slice(-2);
    for (const r of lastRounds) expect(r.reports.some((rep) => rep.nodeName === 'site-4' && rep.status === 'accepted')).toBe(false);
    expect(done.rounds!.some((r) => r.dropped.some((c) => c.nodeName === 'site-4' || c.nodeId === dead))).toBe(true);
    for (const r of aggregated) expect(r.metrics!.participants).toBeGreaterThanOrEqual(2);
    expect(done.registeredVersion).toBeGreaterThanOrEqual(1);
  });

  it('registers a model with lineage to the job that beats a locally-trained-only model and serves like any version', async () => {
    const view: FederatedJobView = await job();
    const version = await admin.getVersion('digits-fl', view.registeredVersion!);
    expect(version.lineage.runId).toBe(jobId);
    expect(version.lineage.parameters.federatedJob).toBe(jobId);
    expect(version.kind).toBe('image-classifier');

    // The CLI shows the rounds (one process, as a user runs it).
    const cli = await runFogline(['fl', 'get', jobId, '--server', cluster.url, '--token', cluster.adminToken], cleanFoglineEnv());
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(new RegExp(`Federated job ${jobId}: succeeded`));
    expect(cli.stdout).toMatch(/ROUND\s+STATUS\s+CLIENTS/);
    expect(cli.stdout).toContain(`digits-fl@${view.registeredVersion}`);

    const { bytes } = await admin.downloadArtifact('digits-fl', view.registeredVersion!);
    const predictor = await loadBundle(bytes);
    const pixels = new Float32Array(testRows.length * 64);
    testRows.forEach((r, i) => pixels.set(digits.pixels.subarray(r * 64, r * 64 + 64), i * 64));
    const outputs = await predictor.predict([
      { name: 'image', datatype: 'FP32', shape: [testRows.length, 8, 8, 1], data: Array.from(pixels) },
    ]);
    predictor.dispose();
    const labels = outputs.find((o) => o.name === 'label')!.data as number[];
    const federatedAccuracy = labels.filter((l, i) => Number(l) === digits.labels[testRows[i]!]).length / testRows.length;

    // Each site alone, with the same passes over its own data.
    const spec = digitsModelSpec();
    const testData = clientMatrices(spec, { ...digits, pixels, labels: Int32Array.from(testRows, (r) => digits.labels[r]!) }, 0.0001, 1);
    const all = {
      x: { data: new Float32Array([...testData.train.x.data, ...testData.validation.x.data]), rows: testRows.length, cols: 64 },
      y: { data: new Float32Array([...testData.train.y.data, ...testData.validation.y.data]), rows: testRows.length, cols: 10 },
    };
    const locals: number[] = [];
    for (const part of parts) {
      const siteData = clientMatrices(spec, parseImageCsv(csvOf(part), { height: 8, width: 8 }), 0.15, 1);
      let weights = await initialWeights(spec);
      for (let round = 1; round <= ROUNDS; round++) {
        const r = await trainClientUpdate(spec, weights, siteData, { ...LOCAL, seed: round });
        weights = weights.map((w, i) => w + r.delta[i]!);
      }
      locals.push((await evaluateWeights(spec, weights, all.x, all.y, 'softmax-cross-entropy')).accuracy!);
    }
    console.log(
      `union test set (${testRows.length} images): federated ${(federatedAccuracy * 100).toFixed(1)}%, each site alone ${locals
        .map((a) => `${(a * 100).toFixed(1)}%`)
        .join(', ')}`,
    );
    for (const local of locals) expect(federatedAccuracy).toBeGreaterThan(local + 0.15);
    // The server-side evaluation of the last round is the registered model's accuracy on the same set.
    expect(view.rounds!.filter((r) => r.status === 'aggregated').every((r) => typeof r.metrics!.serverAccuracy === 'number')).toBe(true);
    expect(version.metrics.accuracy as number).toBeCloseTo(federatedAccuracy, 2);

    // Served by the control plane's Open Inference endpoint like any registered version.
    const response = await fetch(`${cluster.url}/v2/models/digits-fl/versions/${view.registeredVersion}/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${cluster.adminToken}` },
      body: JSON.stringify({
        inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 8, 8, 1], data: Array.from(pixels.subarray(0, 64)) }],
      }),
    });
    expect(response.status).toBe(200);

    // Deployed to a site like any other version: the agent downloads, verifies and serves it.
    await admin.createDeployment({ name: 'digits', model: `digits-fl@${view.registeredVersion}`, nodeSelector: { site: 's1' } });
    const agentUrl = agents[0]!.output().match(/"url":"(http:\/\/[^"]+)"/)?.[1];
    expect(agentUrl).toBeDefined();
    const served = await eventually(
      async () => {
        const r = await fetch(`${agentUrl}/v2/models/digits/infer`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 8, 8, 1], data: Array.from(pixels.subarray(0, 64)) }],
          }),
        });
        return r.status === 200 ? ((await r.json()) as { model_version: string }) : undefined;
      },
      60_000,
      500,
    );
    expect(served.model_version).toBe(String(view.registeredVersion));
  });
});
