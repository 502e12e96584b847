import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InferInput } from '../../src/ml/bundle/infer-tensors.js';
import { loadBundle } from '../../src/ml/bundle/load-bundle.js';
import { parseTimeSeriesCsv } from '../../src/ml/timeseries/ingest.js';
import { PJME_TEXT, startTestControlPlane, type TestControlPlane } from '../support/control-plane.js';

const series = parseTimeSeriesCsv(PJME_TEXT, { timeColumn: 'Datetime', valueColumn: 'PJME_MW' });
const WINDOW = 168;
/** The last week of the vendored series and the hour after it: a real request. */
const history = Array.from(series.values.subarray(series.values.length - WINDOW));
const startTime = series.start + series.values.length * series.intervalSeconds;

describe('cloud inference on the Open Inference Protocol', () => {
  let cp: TestControlPlane;
  let viewer: string;
  const infer = (body: unknown, path = '/v2/models/energy/infer', token = viewer) => cp.call('POST', path, { token, body: body as object });
  const request = (data: unknown = history, extra: object = {}) => ({
    inputs: [
      { name: 'history', shape: [1, WINDOW], datatype: 'FP32', data },
      { name: 'start_time', shape: [1], datatype: 'INT64', data: [startTime] },
    ],
    ...extra,
  });

  beforeAll(async () => {
    cp = await startTestControlPlane();
    viewer = (await cp.admin.createToken({ name: 'client', role: 'viewer' })).token;
    await cp.uploadPjme();
    expect(
      await cp.train(cp.adminToken, { pipeline: 'forecast', dataset: 'pjme', model: 'energy', params: { epochs: 2, hidden: [32] } }),
    ).toBe(1);
  });

  afterAll(async () => {
    await cp?.close();
  });

  it('answers health and describes the model by its signature', async () => {
    expect(await cp.call('GET', '/v2/health/live')).toMatchObject({ status: 200, body: { live: true } });
    expect(await cp.call('GET', '/v2/health/ready')).toMatchObject({ status: 200, body: { ready: true } });
    const { status, body } = await cp.call('GET', '/v2/models/energy', { token: viewer });
    expect(status).toBe(200);
    expect(body).toMatchObject({
      name: 'energy',
      versions: ['1'],
      inputs: [
        { name: 'history', datatype: 'FP32', shape: [-1, WINDOW] },
        { name: 'start_time', datatype: 'INT64', shape: [-1] },
      ],
      outputs: [{ name: 'forecast', datatype: 'FP32', shape: [-1, 24] }],
    });
  });

  it('forecasts the next day exactly as the downloaded bundle does in-process', async () => {
    const answer = await infer(request(history, { id: 'req-1' }));
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ model_name: 'energy', model_version: '1', id: 'req-1' });
    const forecast = answer.body.outputs[0];
    expect(forecast).toMatchObject({ name: 'forecast', shape: [1, 24], datatype: 'FP32' });
    const bundle = await cp.admin.downloadArtifact('energy', 1);
    const local = await loadBundle(bundle.bytes);
    const [expected] = await local.predict(request().inputs as InferInput[]);
    local.dispose();
    expect(forecast.data).toHaveLength(24);
    forecast.data.forEach((value: number, i: number) => expect(value).toBeCloseTo(expected!.data[i] as number, 4));
    // A day-ahead forecast of PJM East load is in the tens of thousands of MW.
    expect(Math.min(...forecast.data)).toBeGreaterThan(10_000);
  });

  it('accepts nested data, a named version and an output filter, as the spec allows', async () => {
    const flat = (await infer(request())).body.outputs[0].data;
    const nested = await infer(request([history]), '/v2/models/energy/versions/1/infer');
    expect(nested.status).toBe(200);
    expect(nested.body.outputs[0].data).toEqual(flat);
    const filtered = await infer(request(history, { outputs: [{ name: 'forecast' }] }));
    expect(filtered.body.outputs.map((o: { name: string }) => o.name)).toEqual(['forecast']);
  });

  it("accepts a request shaped as the spec's example: id, parameters at every level, output parameters", async () => {
    // The Open Inference Protocol's example request (REST, "Inference Request JSON Object"), with
    // this model's tensor names: an id echoed back, request/input/output parameters, a 2-D
    // tensor given as nested rows, INT64 as JSON numbers.
    const body = {
      id: '42',
      parameters: { binary_data_output: false, priority: 1 },
      inputs: [
        { name: 'history', shape: [1, WINDOW], datatype: 'FP32', parameters: { binary_data_size: 0 }, data: [history] },
        { name: 'start_time', shape: [1], datatype: 'INT64', data: request().inputs[1]!.data },
      ],
      outputs: [{ name: 'forecast', parameters: { binary_data: false } }],
    };
    const answer = await infer(body);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body).toMatchObject({ id: '42', model_name: 'energy', model_version: '1' });
    expect(answer.body.outputs).toEqual([expect.objectContaining({ name: 'forecast', datatype: 'FP32', shape: [1, 24] })]);
    expect(answer.body.outputs[0].data).toEqual((await infer(request())).body.outputs[0].data);
  });

  it.each([
    ['a wrong shape', request(history.slice(1)).inputs.map((i) => (i.name === 'history' ? { ...i, shape: [1, WINDOW - 1] } : i)), /shape/],
    ['a missing input', [request().inputs[0]], /start_time/],
    ['too few values for the shape', [{ ...request().inputs[0]!, data: history.slice(10) }, request().inputs[1]], /data values/],
    ['a null value', [{ ...request().inputs[0]!, data: [...history.slice(1), null] }, request().inputs[1]], /not a number/],
    ['text among the numbers', [{ ...request().inputs[0]!, data: [...history.slice(1), 'lots'] }, request().inputs[1]], /not a number/],
    ['a wrong datatype', [{ ...request().inputs[0]!, datatype: 'BYTES' }, request().inputs[1]], /datatype/],
  ])('answers %s with 400 and a V2 error', async (_, inputs, message) => {
    const answer = await infer({ inputs });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatch(message);
    expect(Object.keys(answer.body)).toEqual(['error']);
  });

  it('refuses values JSON can only spell as overflow (1e999 is Infinity)', async () => {
    const raw = JSON.stringify(request()).replace(String(history[0]), '1e999');
    const answer = await cp.call('POST', '/v2/models/energy/infer', { token: viewer, body: raw });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatch(/finite/);
  });

  it('answers unknown models, versions and outputs, and missing tokens, in the V2 error form', async () => {
    expect(await infer(request(), '/v2/models/nothing/infer')).toMatchObject({
      status: 404,
      body: { error: expect.stringContaining('nothing') },
    });
    expect((await infer(request(), '/v2/models/energy/versions/9/infer')).status).toBe(404);
    expect((await infer(request(history, { outputs: [{ name: 'nope' }] }))).body.error).toMatch(/no output "nope"/);
    expect(await cp.call('POST', '/v2/models/energy/infer', { body: request() })).toMatchObject({
      status: 401,
      body: { error: expect.any(String) },
    });
    expect((await cp.call('POST', '/v2/models/energy/infer', { token: viewer, body: '{"inputs": [' })).status).toBe(400);
  });
});
