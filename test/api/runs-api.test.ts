import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunView } from '../../src/contracts/runs.js';
import { startTestControlPlane, type TestControlPlane } from '../support/control-plane.js';
import { eventually } from '../support/processes.js';

const DIGITS = fs.readFileSync(fileURLToPath(new URL('../../data/optdigits/optdigits.csv', import.meta.url)), 'utf8');
const NAB = fs.readFileSync(
  fileURLToPath(new URL('../../data/nab/realKnownCause/ambient_temperature_system_failure.csv', import.meta.url)),
  'utf8',
);
// Small and quick: the quality figures come from bench/ml, not from tests.
const QUICK = { epochs: 2, hidden: [32], patience: 2 };

describe('pipeline runs', () => {
  let cp: TestControlPlane;
  let operator: string;

  const startRun = (body: object) => cp.call('POST', '/api/v1/runs', { token: operator, body });
  const finished = (id: string, timeoutMs = 120_000) =>
    eventually(
      async () => {
        const run = (await cp.call('GET', `/api/v1/runs/${id}`, { token: operator })).body as RunView;
        return ['succeeded', 'failed', 'canceled'].includes(run.status) ? run : undefined;
      },
      timeoutMs,
      250,
    );

  beforeAll(async () => {
    cp = await startTestControlPlane();
    operator = (await cp.admin.createToken({ name: 'ops', role: 'operator' })).token;
    await cp.uploadPjme(operator);
  });

  afterAll(async () => {
    await cp?.close();
  });

  it('runs prepare -> train -> evaluate -> register on real data and records lineage', async () => {
    const started = await startRun({ pipeline: 'forecast', dataset: 'pjme', params: QUICK, model: 'energy-forecaster' });
    expect(started.status).toBe(201);
    expect(started.body.steps.map((s: { name: string }) => s.name)).toEqual(['prepare', 'train', 'evaluate', 'register']);
    const run = await finished(started.body.id);
    expect(run.error).toBeNull();
    expect(run.status).toBe('succeeded');
    expect(run.steps.slice(0, 3).map((s) => s.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(run.steps[0]?.summary).toMatchObject({ duplicateRows: expect.any(Number), pointsFilled: expect.any(Number) });
    const gate = run.result?.gate as { passed: boolean; model: number; baseline: number };
    expect(gate.passed).toBe(gate.model < gate.baseline);
    const events = (await cp.call('GET', `/api/v1/runs/${run.id}/events`, { token: operator })).body.events as {
      kind: string;
      payload: { epoch?: number; loss?: number };
    }[];
    const epochs = events.filter((e) => e.kind === 'epoch');
    expect(epochs.length).toBeGreaterThanOrEqual(1);
    expect(epochs.every((e) => Number.isFinite(e.payload.loss))).toBe(true);
    if (gate.passed) {
      expect(run.steps[3]?.status).toBe('succeeded');
      const version = await cp.admin.getVersion('energy-forecaster', run.registeredVersion as number);
      expect(version.lineage).toMatchObject({
        runId: run.id,
        dataset: { name: 'pjme', version: 1 },
        parameters: { epochs: 2, hidden: [32], window: 168 },
      });
      expect(version.ioSignature.inputs.map((i) => [i.name, i.datatype, i.shape])).toEqual([
        ['history', 'FP32', [-1, 168]],
        ['start_time', 'INT64', [-1]],
      ]);
    } else {
      expect(run.steps[3]?.status).toBe('skipped');
      expect((await cp.call('GET', '/api/v1/models/energy-forecaster', { token: operator })).status).toBe(404);
    }
  });

  it('reuses the prepared data when only a training parameter changes', async () => {
    const started = await startRun({
      pipeline: 'forecast',
      dataset: 'pjme',
      params: { ...QUICK, learningRate: 0.002 },
      model: 'energy-forecaster',
    });
    const run = await finished(started.body.id);
    expect(run.status).toBe('succeeded');
    expect(run.steps[0]?.status).toBe('cached');
    expect(run.steps[1]?.status).toBe('succeeded');
  });

  it('trains an image classifier on the digits and registers it only above the majority-class baseline', async () => {
    const pushed = await cp.call('POST', '/api/v1/datasets/digits/versions?kind=image-csv&imageHeight=8&imageWidth=8', {
      token: operator,
      body: DIGITS,
      headers: { 'content-type': 'text/csv' },
    });
    expect(pushed.status).toBe(201);
    const started = await startRun({ pipeline: 'image-classifier', dataset: 'digits', params: { epochs: 5 } });
    const run = await finished(started.body.id);
    expect(run.error).toBeNull();
    expect(run.status).toBe('succeeded');
    const gate = run.result?.gate as { passed: boolean; model: number; baseline: number };
    expect(gate.baseline).toBeLessThan(0.2);
    expect(gate.passed).toBe(gate.model > gate.baseline);
    expect(run.steps[0]?.summary).toMatchObject({ images: 1797, classes: 10, size: '8x8x1' });
    if (gate.passed) {
      const version = await cp.admin.getVersion('digits-classifier', run.registeredVersion as number);
      expect(version.kind).toBe('image-classifier');
      expect(version.lineage.dataset?.name).toBe('digits');
    }
  });

  it('trains an anomaly detector on a NAB sensor series, gated on persistence', async () => {
    const pushed = await cp.call('POST', '/api/v1/datasets/ambient-temperature/versions', {
      token: operator,
      body: NAB,
      headers: { 'content-type': 'text/csv' },
    });
    expect(pushed.status).toBe(201);
    const started = await startRun({ pipeline: 'anomaly', dataset: 'ambient-temperature', params: { epochs: 3 } });
    const run = await finished(started.body.id);
    expect(run.error).toBeNull();
    expect(run.status).toBe('succeeded');
    const gate = run.result?.gate as { passed: boolean; model: number; baseline: number };
    expect(gate.baseline).toBeGreaterThan(0);
    expect(gate.passed).toBe(gate.model < gate.baseline);
    expect(run.steps[2]?.summary).toMatchObject({ detectedWindows: expect.any(Number) });
  });

  it('refuses unknown pipelines, parameters, out-of-range values and the wrong kind of dataset', async () => {
    expect((await startRun({ pipeline: 'magic', dataset: 'pjme' })).body.code).toBe('FOGLINE_ERR_REQUEST_INVALID');
    const unknown = await startRun({ pipeline: 'forecast', dataset: 'pjme', params: { epoch: 3 } });
    expect(unknown).toMatchObject({ status: 400, body: { code: 'FOGLINE_ERR_PIPELINE_PARAMS_INVALID' } });
    expect(unknown.body.message).toContain('epoch');
    expect((await startRun({ pipeline: 'forecast', dataset: 'pjme', params: { epochs: 0 } })).body.code).toBe(
      'FOGLINE_ERR_PIPELINE_PARAMS_INVALID',
    );
    expect((await startRun({ pipeline: 'forecast', dataset: 'nothing' })).body.code).toBe('FOGLINE_ERR_DATASET_NOT_FOUND');
    expect((await startRun({ pipeline: 'image-classifier', dataset: 'pjme' })).body.code).toBe('FOGLINE_ERR_DATASET_INVALID');
    const { runs } = (await cp.call('GET', '/api/v1/runs', { token: operator })).body;
    expect(runs).toHaveLength(4);
  });

  it('cancels a run and leaves no version behind', async () => {
    const before = (await cp.call('GET', '/api/v1/models/energy-forecaster/versions', { token: operator })).body.versions?.length ?? 0;
    const started = await startRun({
      pipeline: 'forecast',
      dataset: 'pjme',
      params: { epochs: 200, hidden: [64], patience: 200, seed: 7 },
      model: 'energy-forecaster',
    });
    await eventually(async () => {
      const run = (await cp.call('GET', `/api/v1/runs/${started.body.id}`, { token: operator })).body as RunView;
      return run.steps[1]?.status === 'running' && run.progress?.epoch ? run : undefined;
    }, 60_000);
    const canceled = await cp.call('POST', `/api/v1/runs/${started.body.id}/cancel`, { token: operator });
    expect(canceled.status).toBe(200);
    const run = await finished(started.body.id, 30_000);
    expect(run.status).toBe('canceled');
    expect(run.steps.map((s) => s.status)).toEqual(['cached', 'canceled', 'canceled', 'canceled']);
    const after = (await cp.call('GET', '/api/v1/models/energy-forecaster/versions', { token: operator })).body.versions?.length ?? 0;
    expect(after).toBe(before);
    expect((await cp.call('POST', `/api/v1/runs/${run.id}/cancel`, { token: operator })).body.code).toBe('FOGLINE_ERR_RUN_FINISHED');
  });
  it('warm-starts a forecast run from a version of the same architecture; refuses a missing version or another architecture', async () => {
    const base = await finished(
      (await startRun({ pipeline: 'forecast', dataset: 'pjme', params: QUICK, model: 'warm', gate: 'none' })).body.id,
    );
    expect(base.registeredVersion).toBe(1);
    const warm = await finished(
      (await startRun({ pipeline: 'forecast', dataset: 'pjme', params: { ...QUICK, warmStartFrom: 1 }, model: 'warm', gate: 'none' })).body
        .id,
    );
    expect(warm.error).toBeNull();
    expect(warm.steps[1]?.summary).toMatchObject({ warmStartFrom: 1 });
    const lineage = (await cp.call('GET', '/api/v1/models/warm/versions/2', { token: operator })).body.lineage;
    expect(lineage.parameters).toMatchObject({ warmStartFrom: 1 });

    const runsBefore = (await cp.call('GET', '/api/v1/runs', { token: operator })).body.runs.length;
    const missing = await startRun({ pipeline: 'forecast', dataset: 'pjme', params: { ...QUICK, warmStartFrom: 9 }, model: 'warm' });
    expect(missing).toMatchObject({ status: 400, body: { code: 'FOGLINE_ERR_PIPELINE_PARAMS_INVALID' } });
    expect(missing.body.message).toMatch(/warm has no version 9/);
    const other = await startRun({
      pipeline: 'forecast',
      dataset: 'pjme',
      params: { ...QUICK, hidden: [8], warmStartFrom: 1 },
      model: 'warm',
    });
    expect(other).toMatchObject({ status: 400, body: { code: 'FOGLINE_ERR_PIPELINE_PARAMS_INVALID' } });
    expect(other.body.message).toMatch(/another architecture \(hidden \[32\] vs \[8\]\)/);
    expect((await cp.call('GET', '/api/v1/runs', { token: operator })).body.runs).toHaveLength(runsBefore);
  });
});
