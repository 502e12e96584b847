/**
 * Sample uploads bounded on both sides (POST /api/v1/drift/nodes/{id}/samples), over real HTTP on
 * SQLite and PostgreSQL: the attack rows (a value of 123,456,789, a load of -5, a time
 * 30,000 h ahead, a time a Date cannot hold) are refused with a 400 that names each row and why,
 * the valid rows beside them are kept, and random batches never get a 5xx.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/client/api-client.js';
import type { DatasetVersionView } from '../../src/contracts/datasets.js';
import type { DriftReport, DriftSampleRefusal } from '../../src/contracts/drift.js';
import { parseTimeSeriesCsv } from '../../src/ml/timeseries/ingest.js';
import { IDLE_HEARTBEAT, PJME_TEXT, startTestControlPlane, type TestControlPlane } from '../support/control-plane.js';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/databases.js';

const HOUR = 3600;
const pjme = parseTimeSeriesCsv(PJME_TEXT, { timeColumn: 'Datetime', valueColumn: 'PJME_MW' });
const measured = Array.from(pjme.values).filter((_, i) => pjme.filled[i] === 0);
const MIN = Math.min(...measured);
const MAX = Math.max(...measured);

const REPORT: DriftReport = {
  deployment: 'energy',
  model: 'energy',
  version: 1,
  sha256: '0'.repeat(64),
  summary: { kind: 'forecaster', hasReference: false, windowHours: 168, from: null, to: null, rows: 0, features: [], error: null },
};

for (const dialect of DIALECTS.filter((d) => d === 'sqlite' || d === 'postgres')) {
  describe(`sample upload bounds (${dialect})`, { timeout: 240_000 }, () => {
    let database: TestDatabase | undefined;
    let cp: TestControlPlane;
    let node: { nodeId: string; credential: string };

    const upload = (samples: unknown) =>
      cp.call('POST', `/api/v1/drift/nodes/${node.nodeId}/samples`, { token: node.credential, body: { deployment: 'energy', samples } });
    const versions = async () =>
      (await cp.call('GET', '/api/v1/datasets/pjme', { token: cp.adminToken })).body.versions as DatasetVersionView[];
    const latest = async () => (await versions())[0]!;
    const endOf = (view: DatasetVersionView) => Date.parse(view.timeEnd!) / 1000;

    beforeAll(async () => {
      database = dialect === 'sqlite' ? undefined : await createTestDatabase(dialect);
      cp = await startTestControlPlane(database ? { db: database.url } : {});
      await cp.uploadPjme();
      expect(
        await cp.train(cp.adminToken, {
          pipeline: 'forecast',
          dataset: 'pjme',
          model: 'energy',
          params: { epochs: 1, hidden: [8], seed: 1 },
        }),
      ).toBe(1);
      await cp.admin.setAlias('energy', 'champion', 1);
      const join = (await cp.admin.createToken({ name: 'join', role: 'join', maxUses: 1 })).token;
      node = await new ApiClient({ server: cp.url }).enroll(join, { name: 'edge-a', role: 'edge', labels: { site: 'a' } });
      expect(
        (await cp.call('POST', `/api/v1/nodes/${node.nodeId}/heartbeat`, { token: node.credential, body: IDLE_HEARTBEAT })).status,
      ).toBe(200);
      const created = await cp.call('POST', '/api/v1/deployments', {
        token: cp.adminToken,
        body: { name: 'energy', model: 'energy@champion', nodeSelector: { site: 'a' } },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      expect((await cp.call('PUT', '/api/v1/drift/policies/energy', { token: cp.adminToken, body: { sampleUpload: true } })).status).toBe(
        200,
      );
      const reported = await cp.call('POST', `/api/v1/drift/nodes/${node.nodeId}/reports`, {
        token: node.credential,
        body: { reports: [REPORT] },
      });
      expect(reported.status, JSON.stringify(reported.body)).toBe(200);
    }, 200_000);

    afterAll(async () => {
      await cp?.close();
      await database?.drop();
    });

    it('refuses the attack rows with a 400 naming each, and keeps the valid rows beside them', async () => {
      const before = await latest();
      const after = endOf(before);
      const future = Math.floor(Date.now() / 1000) + 30_000 * HOUR;
      const answer = await upload([
        { time: after + HOUR, value: 30_000 },
        { time: after + 2 * HOUR, value: 123_456_789 },
        { time: after + 3 * HOUR, value: -5 },
        { time: future, value: 30_000 },
        { time: 8.64e12, value: 30_000 },
        { time: 123_456_789, value: 30_000 },
        { time: after + 2 * HOUR, value: 31_000 },
      ]);
      expect(answer.status, JSON.stringify(answer.body)).toBe(400);
      expect(answer.body.code).toBe('FOGLINE_ERR_DRIFT_SAMPLES_INVALID');
      expect(answer.body.message).toMatch(/^5 sample\(s\) refused \(2 kept as pjme@2\): samples\[1\] /);
      const details = answer.body.details as DriftSampleRefusal;
      expect(details.refused.map((r) => [r.row, r.reason])).toEqual([
        [1, 'value-out-of-band'],
        [2, 'value-out-of-band'],
        [3, 'time-in-future'],
        [4, 'time-in-future'],
        [5, 'time-not-after-dataset'],
      ]);
      expect(details).toMatchObject({ accepted: 2, skipped: 0, dataset: 'pjme', datasetVersion: 2, samplesAfter: after + 2 * HOUR });
      // The next version holds the two valid rows and nothing invented.
      const now = await latest();
      expect(now.version).toBe(2);
      expect(now.rowCount).toBe(before.rowCount + 2);
      expect(endOf(now)).toBe(after + 2 * HOUR);
      expect(now.report.pointsFilled).toBe(before.report.pointsFilled);
    });

    it('a time a Date cannot hold is a 400, never a 500, and writes nothing', async () => {
      const before = await versions();
      for (const time of [8.64e12, 8.64e12 + 1, 1e300, -1e300, Number.MAX_SAFE_INTEGER]) {
        const answer = await upload([{ time, value: 30_000 }]);
        expect(answer.status, `${time}: ${JSON.stringify(answer.body)}`).toBe(400);
        expect(answer.body.details.refused).toEqual([expect.objectContaining({ row: 0 })]);
      }
      expect(await versions()).toHaveLength(before.length);
      expect((await cp.call('GET', '/readyz')).status).toBe(200);
    });

    it('random batches: never a 5xx; valid rows kept, each invalid one reported with its row number', async () => {
      const valid = fc.record({
        kind: fc.constant('valid' as const),
        hours: fc.integer({ min: 1, max: 24 }),
        value: fc.double({ min: MIN, max: MAX, noNaN: true }),
      });
      const invalid = fc.oneof(
        fc.record({
          kind: fc.constant('old' as const),
          hours: fc.integer({ min: -100_000, max: 0 }),
          value: fc.double({ min: MIN, max: MAX, noNaN: true }),
        }),
        fc.record({
          kind: fc.constant('future' as const),
          hours: fc.integer({ min: 2, max: 1e9 }),
          value: fc.double({ min: MIN, max: MAX, noNaN: true }),
        }),
        fc.record({
          kind: fc.constant('value' as const),
          hours: fc.integer({ min: 1, max: 24 }),
          value: fc.oneof(
            fc.double({ max: -1, noNaN: true, noDefaultInfinity: true }),
            fc.double({ min: 1e7, noNaN: true, noDefaultInfinity: true }),
          ),
        }),
        fc.record({ kind: fc.constant('huge' as const), hours: fc.constant(0), value: fc.constantFrom(1, 30_000) }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(fc.oneof(valid, invalid), { minLength: 1, maxLength: 40 }), async (rows) => {
          const before = await versions();
          const after = endOf(before[0]!);
          const now = Math.floor(Date.now() / 1000);
          const samples = rows.map((r) => {
            if (r.kind === 'huge') return { time: 8.64e12 + r.value, value: 30_000 };
            if (r.kind === 'future') return { time: now + HOUR + r.hours * HOUR, value: r.value };
            return { time: after + r.hours * HOUR, value: r.value };
          });
          const answer = await upload(samples);
          expect(answer.status, JSON.stringify(answer.body)).toBeLessThan(500);
          const wrong = rows.flatMap((r, row) => (r.kind === 'valid' ? [] : [row]));
          const validTimes = new Set(rows.flatMap((r, i) => (r.kind === 'valid' ? [samples[i]!.time] : [])));
          const receipt = answer.status === 200 ? answer.body : (answer.body.details as DriftSampleRefusal);
          if (wrong.length === 0) expect(answer.status).toBe(200);
          else {
            expect(answer.status).toBe(400);
            expect(answer.body.code).toBe('FOGLINE_ERR_DRIFT_SAMPLES_INVALID');
            expect(receipt.refused.map((r: { row: number }) => r.row)).toEqual(wrong);
          }
          expect(receipt.accepted).toBe(validTimes.size);
          const after2 = await versions();
          if (validTimes.size === 0) {
            expect(after2).toHaveLength(before.length);
          } else {
            expect(after2).toHaveLength(before.length + 1);
            expect(after2[0]!.rowCount).toBe(before[0]!.rowCount + validTimes.size);
            expect(endOf(after2[0]!)).toBe(Math.max(...validTimes));
          }
        }),
        { numRuns: 15 },
      );
      expect((await cp.call('GET', '/readyz')).status).toBe(200);
    });
  });
}
