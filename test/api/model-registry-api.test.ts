import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/client/api-client.js';
import { FolderArtifactStore } from '../../src/registry/artifact-store.js';
import { ModelRegistry } from '../../src/registry/model-registry.js';
import { SigningKey, verifyBundleSignature } from '../../src/registry/signing-key.js';
import { openStore, type Store } from '../../src/store/store.js';
import { startTestControlPlane, type TestControlPlane } from '../support/control-plane.js';

describe('model registry API', () => {
  let cp: TestControlPlane;
  let store: Store;
  let viewer: ApiClient;
  let operator: string;

  beforeAll(async () => {
    cp = await startTestControlPlane();
    // Versions are registered by pipeline runs; here the registry is driven directly, on the
    // server's own database, artifact store and key.
    store = openStore(`sqlite:${path.join(cp.dataDir, 'fogline.db')}`);
    const registry = new ModelRegistry(
      store.db,
      new FolderArtifactStore(path.join(cp.dataDir, 'artifacts')),
      SigningKey.loadOrCreate(path.join(cp.dataDir, 'signing-key.pem')),
    );
    for (const bundle of ['first bundle', 'second bundle']) {
      await registry.register({
        model: 'energy-forecaster',
        bundle: Buffer.from(bundle),
        framework: 'tfjs',
        kind: 'forecaster',
        ioSignature: {
          inputs: [{ name: 'history', datatype: 'FP32', shape: [-1, 168] }],
          outputs: [{ name: 'forecast', datatype: 'FP32', shape: [-1, 24] }],
        },
        metrics: { mape: 4.25, baselineMape: 7.5 },
        lineage: { runId: 'run-1', dataset: { name: 'pjme', version: 1, sha256: 'a'.repeat(64) }, parameters: {}, codeVersion: '0.1.0' },
      });
    }
    viewer = new ApiClient({ server: cp.url, token: (await cp.admin.createToken({ name: 'v', role: 'viewer' })).token });
    operator = (await cp.admin.createToken({ name: 'o', role: 'operator' })).token;
  });

  afterAll(async () => {
    await store?.close();
    await cp?.close();
  });

  it('lists models and versions to viewers', async () => {
    const { models } = await viewer.listModels();
    expect(models).toEqual([expect.objectContaining({ name: 'energy-forecaster', latestVersion: 2, versionCount: 2, aliases: {} })]);
    const { versions } = await viewer.listVersions('energy-forecaster');
    expect(versions.map((v) => v.version)).toEqual([2, 1]);
    expect(versions[0]?.lineage.dataset).toEqual({ name: 'pjme', version: 1, sha256: 'a'.repeat(64) });
  });

  it('moves aliases for operators only', async () => {
    expect(
      (await cp.call('PUT', '/api/v1/models/energy-forecaster/aliases/champion', { token: operator, body: { version: 1 } })).status,
    ).toBe(200);
    expect((await viewer.getVersion('energy-forecaster', 'champion')).version).toBe(1);
    const refused = await cp.call('PUT', '/api/v1/models/energy-forecaster/aliases/champion', {
      token: (await cp.admin.createToken({ name: 'v2', role: 'viewer' })).token,
      body: { version: 2 },
    });
    expect(refused.status).toBe(403);
    const missing = await cp.call('PUT', '/api/v1/models/energy-forecaster/aliases/champion', { token: operator, body: { version: 7 } });
    expect(missing).toMatchObject({ status: 404, body: { code: 'FOGLINE_ERR_MODEL_VERSION_NOT_FOUND' } });
    const badAlias = await cp.call('PUT', '/api/v1/models/energy-forecaster/aliases/9lives', { token: operator, body: { version: 1 } });
    expect(badAlias.status).toBe(400);
    expect((await viewer.getModel('energy-forecaster')).aliases).toEqual({ champion: 1 });
  });

  it('serves bundles whose digest and signature verify against the published key', async () => {
    const download = await viewer.downloadArtifact('energy-forecaster', 2);
    expect(download.bytes.toString()).toBe('second bundle');
    expect(createHash('sha256').update(download.bytes).digest('hex')).toBe(download.sha256);
    const { publicKeyPem } = await new ApiClient({ server: cp.url }).registryPublicKey();
    expect(verifyBundleSignature(publicKeyPem, 'energy-forecaster', 2, download.sha256, download.signature)).toBe(true);
    expect(verifyBundleSignature(publicKeyPem, 'energy-forecaster', 1, download.sha256, download.signature)).toBe(false);
  });

  it('answers unknown models, versions and aliases with coded 404s', async () => {
    expect((await cp.call('GET', '/api/v1/models/nope', { token: cp.adminToken })).body.code).toBe('FOGLINE_ERR_MODEL_NOT_FOUND');
    expect((await cp.call('GET', '/api/v1/models/energy-forecaster/versions/9', { token: cp.adminToken })).body.code).toBe(
      'FOGLINE_ERR_MODEL_VERSION_NOT_FOUND',
    );
    expect((await cp.call('GET', '/api/v1/models/energy-forecaster/versions/staging', { token: cp.adminToken })).body.code).toBe(
      'FOGLINE_ERR_MODEL_ALIAS_NOT_FOUND',
    );
    expect((await cp.call('GET', '/api/v1/models/energy-forecaster/versions/..%2F..%2Fetc', { token: cp.adminToken })).status).toBe(400);
  });

  it('reports a bundle missing from disk instead of serving nothing', async () => {
    const view = await viewer.getVersion('energy-forecaster', 1);
    const file = new FolderArtifactStore(path.join(cp.dataDir, 'artifacts')).pathOf(view.artifact.sha256);
    fs.renameSync(file, `${file}.moved`);
    try {
      const answer = await cp.call('GET', '/api/v1/models/energy-forecaster/versions/1/artifact', { token: cp.adminToken });
      expect(answer).toMatchObject({ status: 500, body: { code: 'FOGLINE_ERR_ARTIFACT_MISSING' } });
    } finally {
      fs.renameSync(`${file}.moved`, file);
    }
  });
});
