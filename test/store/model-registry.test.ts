import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FolderArtifactStore } from '../../src/registry/artifact-store.js';
import type { NewModelVersion } from '../../src/registry/model-registry.js';
import { ModelRegistry } from '../../src/registry/model-registry.js';
import { SigningKey, verifyBundleSignature } from '../../src/registry/signing-key.js';
import { type Store } from '../../src/store/store.js';
import { DIALECTS, type MigratedTestStore, migratedTestStore } from '../support/databases.js';
import { tempDir } from '../support/processes.js';

const version = (model: string, bundle: string): NewModelVersion => ({
  model,
  bundle: Buffer.from(bundle),
  framework: 'tfjs',
  kind: 'forecaster',
  ioSignature: {
    inputs: [{ name: 'history', datatype: 'FP32', shape: [-1, 168] }],
    outputs: [{ name: 'forecast', datatype: 'FP32', shape: [-1, 24] }],
  },
  metrics: { test: { mape: 4.2 } },
  lineage: {
    runId: 'r1',
    dataset: { name: 'pjme', version: 1, sha256: 'ab'.repeat(32) },
    parameters: { epochs: 20 },
    codeVersion: '0.1.0',
  },
});

describe.each(DIALECTS)('model registry on %s', (dialect) => {
  let database: MigratedTestStore;
  let store: Store;
  let registry: ModelRegistry;
  let dir: string;

  beforeEach(async () => {
    database = await migratedTestStore(dialect);
    store = database.store;
    dir = tempDir('registry');
    registry = new ModelRegistry(
      store.db,
      new FolderArtifactStore(path.join(dir, 'artifacts')),
      SigningKey.loadOrCreate(path.join(dir, 'signing-key.pem')),
    );
  });

  afterEach(async () => {
    await database.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('numbers versions per model and keeps their lineage, metrics and signature', async () => {
    const v1 = await registry.register(version('energy', 'bundle-1'));
    const v2 = await registry.register(version('energy', 'bundle-2'));
    const other = await registry.register(version('anomaly', 'bundle-a'));
    expect([v1.version, v2.version, other.version]).toEqual([1, 2, 1]);
    expect(v2.lineage.dataset?.name).toBe('pjme');
    expect(v2.metrics).toEqual({ test: { mape: 4.2 } });
    expect(v2.ioSignature.inputs[0]?.shape).toEqual([-1, 168]);
    expect(fs.readFileSync(await registry.artifactPath(v2), 'utf8')).toBe('bundle-2');
    expect(verifyBundleSignature(registry.publicKeyPem, 'energy', 2, v2.artifact.sha256, v2.artifact.signature)).toBe(true);
    // A signature does not carry over to another version or digest.
    expect(verifyBundleSignature(registry.publicKeyPem, 'energy', 1, v2.artifact.sha256, v2.artifact.signature)).toBe(false);
    expect(verifyBundleSignature(registry.publicKeyPem, 'energy', 2, v1.artifact.sha256, v2.artifact.signature)).toBe(false);
    expect((await registry.listModels()).map((m) => [m.name, m.latestVersion, m.versionCount])).toEqual([
      ['anomaly', 1, 1],
      ['energy', 2, 2],
    ]);
  });

  it('gives racing registrations distinct numbers', async () => {
    const views = await Promise.all(Array.from({ length: 6 }, (_, i) => registry.register(version('energy', `b${i}`))));
    expect(views.map((v) => v.version).sort()).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('moves aliases atomically and resolves selectors', async () => {
    await registry.register(version('energy', 'one'));
    await registry.register(version('energy', 'two'));
    await registry.setAlias('energy', 'champion', 1);
    expect((await registry.resolve('energy@champion')).version).toBe(1);
    expect((await registry.resolve('energy')).version).toBe(2);
    expect((await registry.resolve('energy@2')).aliases).toEqual([]);
    await registry.setAlias('energy', 'champion', 2);
    expect((await registry.resolve('energy@champion')).aliases).toEqual(['champion']);
    expect((await registry.getModel('energy')).aliases).toEqual({ champion: 2 });
    await expect(registry.setAlias('energy', 'champion', 9)).rejects.toMatchObject({ code: 'FOGLINE_ERR_MODEL_VERSION_NOT_FOUND' });
    expect((await registry.getModel('energy')).aliases).toEqual({ champion: 2 });
    await registry.deleteAlias('energy', 'champion');
    await expect(registry.resolve('energy@champion')).rejects.toMatchObject({ code: 'FOGLINE_ERR_MODEL_ALIAS_NOT_FOUND' });
    await expect(registry.resolve('nothing@1')).rejects.toMatchObject({ code: 'FOGLINE_ERR_MODEL_NOT_FOUND' });
    await expect(registry.resolve('Energy@@1')).rejects.toMatchObject({ code: 'FOGLINE_ERR_MODEL_SELECTOR_INVALID' });
  });

  it('edits tags without touching the version itself', async () => {
    const v1 = await registry.register({ ...version('energy', 'one'), tags: { team: 'grid' } });
    const tagged = await registry.updateTags('energy', 1, { set: { reviewed: 'yes' }, remove: ['team'] });
    expect(tagged.tags).toEqual({ reviewed: 'yes' });
    expect((await registry.getVersion('energy', 1)).artifact).toEqual(v1.artifact);
  });
});
