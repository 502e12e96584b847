/**
 * Fuzzing the routes a node credential writes through, WITH node credentials (issue 14): the
 * general API fuzz uses an admin token, which these routes refuse before reading a body. Here a
 * node placed on a deployment (A) and one that is not (B) send arbitrary bodies, ids and numbers
 * (huge, negative, past the database's integer types) on their own paths and on each other's.
 * Nothing may answer 5xx, the control plane stays ready, and a refused request writes nothing
 * (checked in the database after every request). Runs on every database DIALECTS names.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/client/api-client.js';
import type { DatasetVersionView } from '../../src/contracts/datasets.js';
import { NODE_DEPLOYMENT_STATES } from '../../src/contracts/deployments.js';
import { encodeUpdate } from '../../src/ml/federated/update-codec.js';
import { openStore, type Store } from '../../src/store/store.js';
import { IDLE_HEARTBEAT, startTestControlPlane, type TestControlPlane } from '../support/control-plane.js';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/databases.js';
import { eventually } from '../support/processes.js';

interface TestNode {
  nodeId: string;
  credential: string;
}

/**
 * Answers that keep part of a request by design, so "refused writes nothing" does not apply:
 * rows of a sample upload that passed its checks, and the record of a sampled client's rejected
 * update (the round shows who sent what).
 */
const PARTIAL = new Set(['FOGLINE_ERR_DRIFT_SAMPLES_INVALID', 'FOGLINE_ERR_FL_UPDATE_REJECTED']);

/** Numbers past what the columns hold (int32, int64, JavaScript's safe integers) and times past Date's range. */
const edgeNumber = fc.constantFrom(
  0,
  -1,
  1,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32,
  2 ** 53,
  2 ** 53 + 2,
  2 ** 63,
  2 ** 64,
  -(2 ** 63),
  1e21,
  1e300,
  -1e300,
  8.64e12,
  8.64e15,
  0.5,
);
/** Mostly what an agent would send (so that the rest of the body passes validation), sometimes an edge case. */
const num = (usual: fc.Arbitrary<number>) =>
  fc.oneof(
    { arbitrary: usual, weight: 6 },
    { arbitrary: edgeNumber, weight: 2 },
    { arbitrary: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })), weight: 1 },
  );
const count = num(fc.nat(10_000));
const version = num(fc.integer({ min: 1, max: 3 }));
const ratio = num(fc.double({ min: 0, max: 100, noNaN: true }));

describe.each(DIALECTS)('node routes fuzzed with node credentials on %s', { timeout: 400_000 }, (dialect) => {
  let database: TestDatabase;
  let cp: TestControlPlane;
  let store: Store;
  let a: TestNode;
  let b: TestNode;
  let jobId: string;
  let sessionId: string;
  let afterLastRow: number;

  /** What the node routes write: compared before and after every refused request. */
  async function fingerprint(): Promise<string> {
    const db = store.db;
    const rows = await Promise.all([
      db.selectFrom('deployment_node_status').selectAll().orderBy('deployment_name').orderBy('node_id').execute(),
      db.selectFrom('drift_reports').selectAll().orderBy('deployment_name').orderBy('node_id').execute(),
      db.selectFrom('dataset_versions').select(['name', 'version', 'sha256']).orderBy('name').orderBy('version').execute(),
      db.selectFrom('fl_updates').selectAll().orderBy('job_id').orderBy('round').orderBy('attempt').orderBy('node_id').execute(),
      db.selectFrom('inference_sessions').select(['id', 'state', 'connected_at', 'closed_at']).orderBy('id').execute(),
      db.selectFrom('nodes').select(['id', 'inference_url', 'resources', 'agent', 'last_heartbeat_at']).orderBy('id').execute(),
    ]);
    return JSON.stringify(rows, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
  }

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    // Nodes stay online through the run without heartbeats of their own (the fuzz sends odd ones).
    cp = await startTestControlPlane({ db: database.url, authFailureLimit: '0', nodeTimeout: '3600', bodyLimit: '262144' });
    store = openStore(database.url);
    await cp.uploadPjme();
    expect(
      await cp.train(cp.adminToken, {
        pipeline: 'forecast',
        dataset: 'pjme',
        model: 'energy',
        params: { epochs: 1, hidden: [8], seed: 1 },
      }),
    ).toBe(1);
    const versions = (await cp.call('GET', '/api/v1/datasets/pjme', { token: cp.adminToken })).body.versions as DatasetVersionView[];
    afterLastRow = Date.parse(versions[0]!.timeEnd!) / 1000 + 3600;
    const join = (await cp.admin.createToken({ name: 'join', role: 'join', maxUses: 2 })).token;
    const client = new ApiClient({ server: cp.url });
    a = await client.enroll(join, { name: 'edge-a', role: 'edge', labels: { site: 'a' }, inferenceUrl: 'http://127.0.0.1:9/a' });
    b = await client.enroll(join, { name: 'edge-b', role: 'edge', labels: { site: 'b' }, inferenceUrl: 'http://127.0.0.1:9/b' });
    for (const node of [a, b]) {
      const body = { ...IDLE_HEARTBEAT, agent: { ...IDLE_HEARTBEAT.agent, inferenceUrl: `http://127.0.0.1:9/${node === a ? 'a' : 'b'}` } };
      expect((await cp.call('POST', `/api/v1/nodes/${node.nodeId}/heartbeat`, { token: node.credential, body })).status).toBe(200);
    }
    for (const [name, site] of [
      ['energy-a', 'a'],
      ['energy-none', 'nowhere'],
    ]) {
      const created = await cp.call('POST', '/api/v1/deployments', {
        token: cp.adminToken,
        body: { name, model: 'energy@1', nodeSelector: { site } },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
    }
    const policy = await cp.call('PUT', '/api/v1/drift/policies/energy-a', {
      token: cp.adminToken,
      body: { sampleUpload: true, dataset: 'pjme', action: 'alert' },
    });
    expect(policy.status, JSON.stringify(policy.body)).toBe(200);
    const status = { deployments: [{ name: 'energy-a', version: 1, state: 'serving', servingVersion: 1 }] };
    expect((await cp.call('POST', `/api/v1/nodes/${a.nodeId}/deployment-status`, { token: a.credential, body: status })).status).toBe(204);
    const report = {
      deployment: 'energy-a',
      model: 'energy-a',
      version: 1,
      sha256: 'a'.repeat(64),
      summary: { kind: 'forecaster', hasReference: false, windowHours: 168, from: null, to: null, rows: 0, features: [], error: null },
    };
    expect(
      (await cp.call('POST', `/api/v1/drift/nodes/${a.nodeId}/reports`, { token: a.credential, body: { reports: [report] } })).status,
    ).toBe(200);
    const opened = await cp.call('POST', '/api/v1/sessions', { token: cp.adminToken, body: { model: 'energy-a', kind: 'scalar' } });
    expect(opened.status, JSON.stringify(opened.body)).toBe(201);
    sessionId = opened.body.session.id;
    await cp.call('POST', `/api/v1/nodes/${a.nodeId}/sessions/${sessionId}/events`, { token: a.credential, body: { event: 'connected' } });
    const job = await cp.call('POST', '/api/v1/federated/jobs', {
      token: cp.adminToken,
      body: {
        model: 'digits-fl',
        datasetKind: 'digits',
        nodeSelector: { site: 'a' },
        rounds: 1,
        minFitClients: 1,
        roundTimeoutSeconds: 3600,
      },
    });
    expect(job.status, JSON.stringify(job.body)).toBe(201);
    jobId = job.body.id;
    await eventually(async () => {
      const { body } = await cp.call('GET', `/api/v1/federated/nodes/${a.nodeId}/tasks?wait=1`, { token: a.credential });
      return (body.tasks as { jobId: string }[]).some((t) => t.jobId === jobId) ? true : undefined;
    }, 30_000);
  }, 300_000);

  afterAll(async () => {
    await cp?.close();
    await store?.close();
    await database?.drop();
  });

  it("answers numbers past the database's integer types, and times past Date's range, with a 400 or by storing them, never a 500", async () => {
    const huge = [2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 2 ** 63, 2 ** 64, 1e21, 1e300, -(2 ** 63), 8.64e12, 8.64e15];
    const status = {
      name: 'energy-a',
      version: 1,
      state: 'serving',
      servingVersion: 1,
      requests: 1,
      errors: 0,
      latencyP50Ms: 1,
      latencyP99Ms: 2,
      localRequests: 1,
      offloadedRequests: 0,
    };
    const joint = { easy: 1, hard: 1, fallback: 0, labelled: 0, edgeCorrect: 0, finalCorrect: 0 };
    const summary = { kind: 'forecaster', hasReference: false, windowHours: 168, from: null, to: null, rows: 1, features: [], error: null };
    const error = { windowHours: 48, count: 1, mape: 1, validationMape: 1, pending: 0, unmatched: 0 };
    const feature = {
      name: 'x',
      source: 'input',
      count: 1,
      mean: 0,
      std: 1,
      min: 0,
      max: 1,
      referenceCount: 1,
      psi: null,
      wasserstein: null,
      ksStatistic: null,
      ksPValue: null,
      counts: [1],
    };
    const report = { deployment: 'energy-a', model: 'energy-a', version: 1, sha256: 'a'.repeat(64), summary };
    const cases: { path: string; body: (value: number) => object }[] = [
      ...Object.keys(status)
        .filter((key) => typeof status[key as keyof typeof status] === 'number')
        .map((key) => ({ path: `deployment-status ${key}`, body: (value: number) => ({ deployments: [{ ...status, [key]: value }] }) })),
      ...Object.keys(joint).map((key) => ({
        path: `deployment-status joint.${key}`,
        body: (value: number) => ({ deployments: [{ ...status, joint: { ...joint, [key]: value } }] }),
      })),
      { path: 'drift version', body: (value: number) => ({ reports: [{ ...report, version: value }] }) },
      ...['windowHours', 'rows'].map((key) => ({
        path: `drift summary.${key}`,
        body: (value: number) => ({ reports: [{ ...report, summary: { ...summary, [key]: value } }] }),
      })),
      ...Object.keys(error).map((key) => ({
        path: `drift summary.error.${key}`,
        body: (value: number) => ({ reports: [{ ...report, summary: { ...summary, error: { ...error, [key]: value } } }] }),
      })),
      ...['count', 'mean', 'std', 'referenceCount'].map((key) => ({
        path: `drift summary.features.${key}`,
        body: (value: number) => ({ reports: [{ ...report, summary: { ...summary, features: [{ ...feature, [key]: value }] } }] }),
      })),
      { path: 'samples time', body: (value: number) => ({ deployment: 'energy-a', samples: [{ time: value, value: 30_000 }] }) },
      { path: 'samples value', body: (value: number) => ({ deployment: 'energy-a', samples: [{ time: afterLastRow, value }] }) },
      ...['cpuCount', 'memoryTotalBytes', 'memoryFreeBytes', 'diskTotalBytes', 'diskFreeBytes'].map((key) => ({
        path: `heartbeat resources.${key}`,
        body: (value: number) => ({ ...IDLE_HEARTBEAT, resources: { ...IDLE_HEARTBEAT.resources, [key]: value } }),
      })),
      {
        path: 'heartbeat backlog.dropped',
        body: (value: number) => ({ ...IDLE_HEARTBEAT, backlog: { samples: [], dropped: value } }),
      },
      {
        path: 'heartbeat backlog.samples.at',
        body: (value: number) => ({
          ...IDLE_HEARTBEAT,
          backlog: { samples: [{ at: value, resources: IDLE_HEARTBEAT.resources }], dropped: 0 },
        }),
      },
    ];
    const routes: Record<string, string> = {
      'deployment-status': `/api/v1/nodes/${a.nodeId}/deployment-status`,
      drift: `/api/v1/drift/nodes/${a.nodeId}/reports`,
      samples: `/api/v1/drift/nodes/${a.nodeId}/samples`,
      heartbeat: `/api/v1/nodes/${a.nodeId}/heartbeat`,
    };
    const failures: string[] = [];
    for (const { path, body } of cases) {
      for (const value of huge) {
        const answer = await cp.call('POST', routes[path.split(' ')[0]!]!, { token: a.credential, body: body(value) });
        if (answer.status >= 500 || (answer.status >= 400 && answer.status !== 400))
          failures.push(`${path} = ${value}: ${answer.status} ${JSON.stringify(answer.body)}`);
      }
    }
    for (const round of huge) {
      for (const [r, t] of [
        [round, 1],
        [1, round],
      ]) {
        const response = await fetch(`${cp.url}/api/v1/federated/nodes/${a.nodeId}/jobs/${jobId}/update?round=${r}&attempt=${t}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${a.credential}`, 'content-type': 'application/octet-stream' },
          body: encodeUpdate(new Float32Array(4810), 'float32', { examples: 1 }),
        });
        if (response.status >= 500) failures.push(`update round=${r} attempt=${t}: ${response.status} ${await response.text()}`);
      }
    }
    expect(failures).toEqual([]);
    // Put A back as the run below expects it: alive, with room, serving energy-a.
    expect(
      (
        await cp.call('POST', routes.heartbeat!, {
          token: a.credential,
          body: { ...IDLE_HEARTBEAT, agent: { ...IDLE_HEARTBEAT.agent, inferenceUrl: 'http://127.0.0.1:9/a' } },
        })
      ).status,
    ).toBe(200);
  });

  it('never answers 5xx, stays ready, and writes nothing it refuses', async () => {
    const deploymentName = fc.oneof(fc.constantFrom('energy-a', 'energy-none', 'no-such-deployment', ''), fc.string({ maxLength: 30 }));
    const statusBody = fc.record({
      deployments: fc.array(
        fc.record(
          {
            name: deploymentName,
            version: fc.oneof(version, fc.constant(null)),
            state: fc.constantFrom(...NODE_DEPLOYMENT_STATES, 'hijacked'),
            servingVersion: fc.oneof(version, fc.constant(null)),
            reason: fc.string({ maxLength: 40 }),
            requests: count,
            errors: count,
            latencyP50Ms: ratio,
            latencyP99Ms: ratio,
            localRequests: count,
            offloadedRequests: count,
            joint: fc.record({ easy: count, hard: count, fallback: count, labelled: count, edgeCorrect: count, finalCorrect: count }),
          },
          { requiredKeys: ['name', 'version', 'state'] },
        ),
        { maxLength: 3 },
      ),
    });
    const feature = fc.record({
      name: fc.string({ maxLength: 10 }),
      source: fc.constantFrom('input', 'output'),
      count,
      mean: ratio,
      std: ratio,
      min: ratio,
      max: ratio,
      referenceCount: count,
      psi: fc.oneof(ratio, fc.constant(null)),
      wasserstein: fc.oneof(ratio, fc.constant(null)),
      ksStatistic: fc.oneof(ratio, fc.constant(null)),
      ksPValue: fc.oneof(ratio, fc.constant(null)),
      counts: fc.array(count, { maxLength: 4 }),
    });
    const driftBody = fc.record({
      reports: fc.array(
        fc.record({
          deployment: deploymentName,
          model: deploymentName,
          version,
          sha256: fc.string({ maxLength: 64 }),
          summary: fc.record({
            kind: fc.constantFrom('forecaster', 'classifier', 'x'),
            hasReference: fc.boolean(),
            windowHours: num(fc.constantFrom(24, 168)),
            from: fc.constant(null),
            to: fc.constant(null),
            rows: count,
            features: fc.array(feature, { maxLength: 2 }),
            error: fc.option(
              fc.record({ windowHours: num(fc.constant(48)), count, mape: ratio, validationMape: ratio, pending: count, unmatched: count }),
            ),
          }),
        }),
        { maxLength: 3 },
      ),
    });
    const samplesBody = fc.record({
      deployment: deploymentName,
      samples: fc.array(
        fc.record({
          time: num(fc.integer({ min: afterLastRow - 36_000, max: afterLastRow + 172_800 })),
          value: num(fc.double({ min: 20_000, max: 40_000, noNaN: true })),
        }),
        { minLength: 1, maxLength: 5 },
      ),
    });
    const heartbeatBody = fc.record({
      resources: fc.record({
        cpuCount: num(fc.integer({ min: 1, max: 64 })),
        loadAverage: fc.array(ratio, { minLength: 3, maxLength: 3 }),
        memoryTotalBytes: num(fc.constant(4e9)),
        memoryFreeBytes: num(fc.constant(2e9)),
        diskTotalBytes: num(fc.constant(1e10)),
        diskFreeBytes: num(fc.constant(5e9)),
        gpus: fc.array(fc.record({ name: fc.string({ maxLength: 10 }), memoryTotalBytes: count }), { maxLength: 2 }),
      }),
      agent: fc.record({
        version: fc.string({ maxLength: 10 }),
        os: fc.string({ maxLength: 10 }),
        arch: fc.string({ maxLength: 10 }),
        hostname: fc.string({ maxLength: 10 }),
        inferenceUrl: fc.oneof(fc.webUrl(), fc.string({ maxLength: 40 })),
      }),
      backlog: fc.option(fc.record({ samples: fc.constant([]), dropped: count }), { nil: undefined }),
    });
    const sessionBody = fc.record(
      { event: fc.constantFrom('connected', 'closed', 'opened'), reason: fc.string({ maxLength: 40 }) },
      { requiredKeys: ['event'] },
    );
    const anyJson = fc.jsonValue({ maxDepth: 3 });

    const request = fc.record({
      caller: fc.constantFrom('a', 'b'),
      // Mostly its own path; sometimes the other node's (refused before the body is read).
      onOwnPath: fc.integer({ min: 0, max: 9 }).map((n) => n < 8),
      route: fc.oneof(
        fc.record({
          kind: fc.constant('status' as const),
          body: fc.oneof({ arbitrary: statusBody, weight: 5 }, { arbitrary: anyJson, weight: 1 }),
        }),
        fc.record({
          kind: fc.constant('drift' as const),
          body: fc.oneof({ arbitrary: driftBody, weight: 5 }, { arbitrary: anyJson, weight: 1 }),
        }),
        fc.record({
          kind: fc.constant('samples' as const),
          body: fc.oneof({ arbitrary: samplesBody, weight: 5 }, { arbitrary: anyJson, weight: 1 }),
        }),
        fc.record({
          kind: fc.constant('heartbeat' as const),
          body: fc.oneof({ arbitrary: heartbeatBody, weight: 5 }, { arbitrary: anyJson, weight: 1 }),
        }),
        fc.record({
          kind: fc.constant('session' as const),
          session: fc.oneof(fc.constant('real'), fc.string({ minLength: 1, maxLength: 70 })),
          body: fc.oneof({ arbitrary: sessionBody, weight: 5 }, { arbitrary: anyJson, weight: 1 }),
        }),
        fc.record({
          kind: fc.constant('update' as const),
          job: fc.oneof(fc.constant('real'), fc.string({ minLength: 1, maxLength: 40 })),
          round: fc.oneof(num(fc.constant(1)), fc.string({ maxLength: 8 })),
          attempt: fc.oneof(num(fc.constant(1)), fc.string({ maxLength: 8 })),
          bytes: fc.oneof(
            fc.uint8Array({ maxLength: 64 }),
            fc
              .constantFrom(4810, 10, 0)
              .chain((length) => count.map((examples) => encodeUpdate(new Float32Array(length).fill(0.001), 'float32', { examples }))),
          ),
        }),
        fc.record({
          kind: fc.constant('read' as const),
          path: fc.oneof(
            fc
              .record({ revision: fc.string({ maxLength: 70 }), waitSeconds: fc.constantFrom(0, -1, 61, 0.5, 1e21, 'x') })
              .map((q) => `desired-state?${new URLSearchParams({ revision: q.revision, waitSeconds: String(q.waitSeconds) })}`),
            fc
              .record({ model: fc.oneof(fc.constant('energy'), fc.string({ minLength: 1, maxLength: 20 })), version })
              .map((q) => `artifacts/${encodeURIComponent(q.model)}/${q.version}`),
            fc
              .record({
                wait: fc.constantFrom(0, -1, 61, 2 ** 63, 'x'),
                kinds: fc.oneof(fc.constant('digits'), fc.string({ maxLength: 20 })),
              })
              .map((q) => `federated-tasks?${new URLSearchParams({ wait: String(q.wait), kinds: q.kinds })}`),
            fc
              .record({
                job: fc.oneof(fc.constant('real'), fc.stringMatching(/^[a-z_0-9]{1,20}$/)),
                round: num(fc.constant(1)),
                attempt: num(fc.constant(1)),
              })
              .map((q) => `weights ${q.job} ${q.round} ${q.attempt}`),
          ),
        }),
      ),
    });

    const failures: string[] = [];
    await fc.assert(
      fc.asyncProperty(request, async ({ caller, onOwnPath, route }) => {
        const node = caller === 'a' ? a : b;
        const pathNode = onOwnPath ? node : caller === 'a' ? b : a;
        const id = encodeURIComponent(pathNode.nodeId);
        let path: string;
        let body: string | Uint8Array;
        let type = 'application/json';
        switch (route.kind) {
          case 'status':
            path = `/api/v1/nodes/${id}/deployment-status`;
            break;
          case 'drift':
            path = `/api/v1/drift/nodes/${id}/reports`;
            break;
          case 'samples':
            path = `/api/v1/drift/nodes/${id}/samples`;
            break;
          case 'heartbeat':
            path = `/api/v1/nodes/${id}/heartbeat`;
            break;
          case 'session':
            path = `/api/v1/nodes/${id}/sessions/${encodeURIComponent(route.session === 'real' ? sessionId : route.session)}/events`;
            break;
          case 'read': {
            const [what, job, round, attempt] = route.path.split(' ') as [string, string?, string?, string?];
            if (what === 'weights') {
              path = `/api/v1/federated/nodes/${id}/jobs/${encodeURIComponent(job === 'real' ? jobId : job!)}/weights?round=${round}&attempt=${attempt}`;
            } else if (what.startsWith('federated-tasks')) {
              path = `/api/v1/federated/nodes/${id}/tasks${what.slice('federated-tasks'.length)}`;
            } else {
              path = `/api/v1/nodes/${id}/${what}`;
            }
            break;
          }
          case 'update': {
            const job = encodeURIComponent(route.job === 'real' ? jobId : route.job);
            const query = new URLSearchParams({ round: String(route.round), attempt: String(route.attempt) });
            path = `/api/v1/federated/nodes/${id}/jobs/${job}/update?${query}`;
            break;
          }
        }
        if (route.kind === 'read') {
          body = '';
        } else if (route.kind === 'update') {
          body = route.bytes;
          type = 'application/octet-stream';
        } else {
          body = JSON.stringify(route.body);
        }
        const before = await fingerprint();
        const read = route.kind === 'read';
        const response = await fetch(`${cp.url}${path}`, {
          method: read ? 'GET' : 'POST',
          headers: { authorization: `Bearer ${node.credential}`, ...(read ? {} : { 'content-type': type }) },
          body: read ? undefined : body,
          signal: AbortSignal.timeout(15_000),
        });
        const text = await response.text();
        const code = (() => {
          try {
            return (JSON.parse(text) as { code?: string }).code;
          } catch {
            return undefined;
          }
        })();
        const shown = `${caller} ${read ? 'GET' : 'POST'} ${path} ${typeof body === 'string' ? body.slice(0, 300) : `<${body.length} bytes>`} → ${response.status} ${text.slice(0, 300)}`;
        if (response.status >= 500) failures.push(shown);
        if (response.status >= 400 && !PARTIAL.has(code ?? '') && (await fingerprint()) !== before)
          failures.push(`wrote while refusing: ${shown}`);
      }),
      { numRuns: Number(process.env.FOGLINE_FUZZ_RUNS ?? 300) },
    );
    expect(failures).toEqual([]);
    // B is placed on nothing: no row of its anywhere, whatever it sent.
    const rows = JSON.parse(await fingerprint()) as Record<string, unknown>[][];
    for (const table of rows.slice(0, 2)) expect(table.filter((row) => row.node_id === b.nodeId)).toEqual([]);
    expect(rows[3]!.filter((row) => row.node_id === b.nodeId)).toEqual([]);
    expect((await cp.call('GET', '/readyz')).status).toBe(200);
  });
});
