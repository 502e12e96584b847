import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestControlPlane, type TestControlPlane } from '../support/control-plane.js';

const DATA = fileURLToPath(new URL('../../data/', import.meta.url));
const PJME = fs.readFileSync(path.join(DATA, 'energy/PJME_hourly_trimmed.csv'), 'utf8');
const DIGITS = fs.readFileSync(path.join(DATA, 'optdigits/optdigits.csv'), 'utf8');

describe('datasets API', () => {
  let cp: TestControlPlane;
  let operator: string;
  const push = (name: string, body: string | Buffer, query = '', token = operator) =>
    cp.call('POST', `/api/v1/datasets/${name}/versions${query}`, { token, body: body as string, headers: { 'content-type': 'text/csv' } });
  const storedFiles = () =>
    fs
      .readdirSync(path.join(cp.dataDir, 'datasets'), { recursive: true })
      .map(String)
      .filter((name) => /[0-9a-f]{64}$/.test(name));

  beforeAll(async () => {
    cp = await startTestControlPlane({ datasetLimit: String(2 * 1024 * 1024) });
    operator = (await cp.admin.createToken({ name: 'ops', role: 'operator' })).token;
  });

  afterAll(async () => {
    await cp?.close();
  });

  it('keeps a real, messy series as a version and reports what reading it fixed', async () => {
    const answer = await push('pjme', PJME, '?timeColumn=Datetime&valueColumn=PJME_MW&filename=PJME_hourly_trimmed.csv');
    expect(answer.status).toBe(201);
    const view = answer.body;
    expect(view).toMatchObject({
      name: 'pjme',
      version: 1,
      kind: 'timeseries',
      schema: { timeColumn: 'Datetime', valueColumn: 'PJME_MW', intervalSeconds: 3600 },
    });
    expect(view.rowCount).toBe(PJME.trim().split('\n').length - 1);
    // The PJM files are unsorted, with daylight-saving duplicates and missing hours.
    expect(view.report.outOfOrderRows).toBeGreaterThan(0);
    expect(view.report.duplicateRows).toBeGreaterThan(0);
    expect(view.report.pointsFilled).toBeGreaterThan(0);
    expect(Date.parse(view.timeEnd) - Date.parse(view.timeStart)).toBeGreaterThan(3 * 365 * 86400_000);
    expect(view.source).toEqual({ upload: 'PJME_hourly_trimmed.csv' });
    const again = await push('pjme', PJME, '?timeColumn=Datetime&valueColumn=PJME_MW');
    expect(again.body).toMatchObject({ version: 2, sha256: view.sha256 });
    const { datasets } = await cp.admin.listDatasets();
    expect(datasets).toEqual([expect.objectContaining({ name: 'pjme', latestVersion: 2, versionCount: 2 })]);
  });

  it('reads image CSVs with their classes', async () => {
    const answer = await push('digits', DIGITS, '?kind=image-csv&imageHeight=8&imageWidth=8');
    expect(answer.status).toBe(201);
    expect(answer.body.schema).toMatchObject({ height: 8, width: 8, classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] });
    expect(answer.body.rowCount).toBe(1797);
  });

  it.each([
    ['a missing column', 'Datetime,PJME_MW\n2018-01-01 00:00:00,1\n', '?valueColumn=load', 'missing-column'],
    ['an empty file', '', '', 'empty'],
    [
      'text in the value column',
      `time,value\n${Array.from({ length: 400 }, (_, i) => `2018-01-01 ${String(i % 24).padStart(2, '0')}:00:00,n/a`).join('\n')}\n`,
      '',
      undefined,
    ],
    ['a single enormous line', `time,value\n2018-01-01 00:00:00,${'9'.repeat(300_000)}\n`, '', 'line-too-long'],
    ['an image CSV without its size', DIGITS, '?kind=image-csv', undefined],
  ])('refuses %s with a clear error and keeps nothing', async (_, body, query, problem) => {
    const before = storedFiles().length;
    const answer = await push('bad', body, query);
    expect(answer.status).toBe(400);
    expect(answer.body.code).toBe('FOGLINE_ERR_DATASET_INVALID');
    expect(answer.body.message.length).toBeGreaterThan(10);
    if (problem) expect(answer.body.details.problem).toBe(problem);
    expect(storedFiles().length).toBe(before);
    expect((await cp.call('GET', '/api/v1/datasets/bad', { token: operator })).status).toBe(404);
  });

  it('stops an upload over the limit before storing it', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 'x');
    const answer = await push('huge', big);
    expect(answer).toMatchObject({ status: 413, body: { code: 'FOGLINE_ERR_DATASET_TOO_LARGE' } });
    expect(fs.readdirSync(path.join(cp.dataDir, 'datasets', 'tmp'))).toEqual([]);
  });

  it('lets viewers read but not push, and refuses unknown options', async () => {
    const viewer = (await cp.admin.createToken({ name: 'v', role: 'viewer' })).token;
    expect((await push('pjme', PJME, '', viewer)).status).toBe(403);
    expect((await cp.call('GET', '/api/v1/datasets/pjme/versions/1', { token: viewer })).status).toBe(200);
    expect((await push('pjme', PJME, '?kind=parquet')).status).toBe(400);
    expect((await push('pjme', PJME, '?colour=red')).status).toBe(400);
    expect((await push('Bad_Name', PJME)).status).toBe(400);
  });
});
