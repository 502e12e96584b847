import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrapAdminToken } from '../../src/control-plane/admin-bootstrap.js';
import { buildControlPlaneApp, type ControlPlaneApp } from '../../src/control-plane/app.js';
import { createServices, type Services } from '../../src/control-plane/services.js';
import { DatasetCatalog } from '../../src/datasets/dataset-catalog.js';
import { DatabaseArtifactStore } from '../../src/registry/database-artifact-store.js';
import { ModelRegistry } from '../../src/registry/model-registry.js';
import { SigningKey, verifyBundleSignature } from '../../src/registry/signing-key.js';
import { openStore, type Store } from '../../src/store/store.js';
import { PJME_TEXT } from '../support/control-plane.js';
import { DIALECTS, type MigratedTestStore, migratedTestStore } from '../support/databases.js';
import { tempDir } from '../support/processes.js';

const SIGNING_KEY_PEM = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

interface Replica {
  app: ControlPlaneApp;
  services: Services;
  store: Store;
  dataDir: string;
  close(): Promise<void>;
}

/**
 * One control-plane replica: its own data dir and connection pool on the shared database, with the
 * database artifact store and the configured signing key (what `--artifact-store database` and
 * FOGLINE_SIGNING_KEY give a server).
 */
async function startReplica(url: string): Promise<Replica> {
  const dataDir = tempDir('replica');
  const store = openStore(url);
  const services = createServices(store, {
    dataDir,
    datasetLimitBytes: 50e6,
    runConcurrency: 1,
    nodeTimeoutSeconds: 45,
    heartbeatIntervalSeconds: 15,
  });
  const cacheDir = path.join(dataDir, 'artifact-cache');
  const artifacts = new DatabaseArtifactStore(store.db, { space: 'models', cacheDir, dialect: store.dialect });
  const key = SigningKey.configured({ pem: SIGNING_KEY_PEM, defaultFile: path.join(dataDir, 'signing-key.pem') });
  Object.assign(services, {
    artifacts,
    models: new ModelRegistry(store.db, artifacts, key),
    datasets: new DatasetCatalog(
      store.db,
      new DatabaseArtifactStore(store.db, { space: 'datasets', cacheDir, dialect: store.dialect }),
      50e6,
    ),
  });
  const app = await buildControlPlaneApp(services, { bodyLimitBytes: 1e6 });
  return {
    app,
    services,
    store,
    dataDir,
    close: async () => {
      await app.close();
      await services.runs.stop();
      await services.inference.close();
      await store.close();
    },
  };
}

describe.each(DIALECTS)('control-plane replicas sharing artifacts on %s', (dialect) => {
  let database: MigratedTestStore;
  let first: Replica;
  let second: Replica;
  let admin: Record<string, string>;
  // Over two 1 MiB chunks, so that downloads and ranges cross chunk boundaries.
  const bundle = randomBytes(2 * 1024 * 1024 + 4321);

  beforeAll(async () => {
    database = await migratedTestStore(dialect);
    first = await startReplica(database.url);
    second = await startReplica(database.url);
    admin = { authorization: `Bearer ${await bootstrapAdminToken(first.services.tokens, first.dataDir)}` };
    await first.services.models.register({
      model: 'energy',
      bundle,
      framework: 'onnx',
      kind: 'forecaster',
      ioSignature: {
        inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 4] }],
        outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 1] }],
      },
      metrics: {},
      lineage: { runId: null, dataset: null, parameters: {}, codeVersion: '0.1.0' },
    });
  }, 60_000);

  afterAll(async () => {
    await first?.close();
    await second?.close();
    await database?.close();
  });

  it('serves a version registered on one replica from the other, verifiable with its sha256 and signature', async () => {
    const response = await second.app.inject({ method: 'GET', url: '/api/v1/models/energy/versions/1/artifact', headers: admin });
    expect(response.statusCode).toBe(200);
    expect(response.rawPayload.equals(bundle)).toBe(true);
    const sha256 = response.headers['x-fogline-sha256'] as string;
    expect(createHash('sha256').update(response.rawPayload).digest('hex')).toBe(sha256);
    const publicKey = (await second.app.inject({ method: 'GET', url: '/api/v1/registry/public-key', headers: admin })).json();
    expect(verifyBundleSignature(publicKey.publicKeyPem, 'energy', 1, sha256, response.headers['x-fogline-signature'] as string)).toBe(
      true,
    );
    // Both replicas publish the same key: an agent verifies whichever one it reached.
    expect(second.services.models.publicKeyPem).toBe(first.services.models.publicKeyPem);
  });

  it('answers range requests across chunk boundaries', async () => {
    const get = (range: string) =>
      second.app.inject({ method: 'GET', url: '/api/v1/models/energy/versions/1/artifact', headers: { ...admin, range } });
    const boundary = 1024 * 1024;
    const middle = await get(`bytes=${boundary - 10}-${boundary + 9}`);
    expect(middle.statusCode).toBe(206);
    expect(middle.headers['content-range']).toBe(`bytes ${boundary - 10}-${boundary + 9}/${bundle.length}`);
    expect(middle.rawPayload.equals(bundle.subarray(boundary - 10, boundary + 10))).toBe(true);
    const rest = await get(`bytes=${boundary * 2 - 1}-`);
    expect(rest.statusCode).toBe(206);
    expect(rest.rawPayload.equals(bundle.subarray(boundary * 2 - 1))).toBe(true);
    const tail = await get('bytes=-100');
    expect(tail.rawPayload.equals(bundle.subarray(bundle.length - 100))).toBe(true);
    const outside = await get(`bytes=${bundle.length}-`);
    expect(outside.statusCode).toBe(416);
    expect(outside.headers['content-range']).toBe(`bytes */${bundle.length}`);
  });

  it('reads a dataset version uploaded to one replica on the other', async () => {
    const pushed = await first.app.inject({
      method: 'POST',
      url: '/api/v1/datasets/pjme/versions?timeColumn=Datetime&valueColumn=PJME_MW',
      headers: { ...admin, 'content-type': 'text/csv' },
      payload: PJME_TEXT,
    });
    expect(pushed.statusCode, pushed.body).toBe(201);
    const series = await second.app.inject({ method: 'GET', url: '/api/v1/datasets/pjme/series?last=24', headers: admin });
    expect(series.statusCode, series.body).toBe(200);
    expect(series.json().values).toHaveLength(24);
  });
});
