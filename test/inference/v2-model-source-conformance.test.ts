// One suite, every V2ModelSource (test/support/v2-model-source-conformance.ts): the agent's chain
// layer by layer (DeployedModels, OffloadingModels over it, DriftMonitoredModels over that) and the
// control plane's (CloudInference over a real registry on SQLite, ReplicaBalancer with no
// replicas over it), each serving the same real forecaster bundle as "energy" version 1.
import fs from 'node:fs';
import path from 'node:path';
import { DriftMonitoredModels } from '../../src/agent/drift/drift-models.js';
import { OffloadingModels } from '../../src/agent/offload/offloading-models.js';
import { DeployedModels } from '../../src/agent/runtime/deployed-models.js';
import { loadVersion } from '../../src/agent/runtime/load-version.js';
import { signedDeployment, testSigningKey } from '../../src/agent/test-support/signed-deployment.js';
import { trainedBundle } from '../../src/agent/test-support/trained-bundle.js';
import { CloudInference } from '../../src/inference/cloud-inference.js';
import { ReplicaBalancer } from '../../src/inference/replica-balancer.js';
import { readBundleManifest } from '../../src/ml/bundle/read-manifest.js';
import { FolderArtifactStore } from '../../src/registry/artifact-store.js';
import { ModelRegistry } from '../../src/registry/model-registry.js';
import { SigningKey } from '../../src/registry/signing-key.js';
import { migratedTestStore } from '../support/databases.js';
import { tempDir } from '../support/processes.js';
import { describeV2ModelSource, type SourceUnderTest } from '../support/v2-model-source-conformance.js';

/** The agent's models with "energy" version 1 loaded and serving (micro-batching on, as agents run). */
async function deployed(): Promise<{ models: DeployedModels; signature: SourceUnderTest['signature'] }> {
  const bytes = await trainedBundle();
  const models = new DeployedModels({ batching: { maxBatchSize: 8, maxDelayMs: 0 } });
  const loaded = await loadVersion(bytes, signedDeployment(testSigningKey(), bytes, 1));
  await models.put('energy', loaded);
  return { models, signature: loaded.predictor.signature };
}

/** The control plane's registry source, with the bundle registered as energy version 1. */
async function cloud(): Promise<{ inference: CloudInference; signature: SourceUnderTest['signature']; close(): Promise<void> }> {
  const bytes = Buffer.from(await trainedBundle());
  const manifest = readBundleManifest(bytes);
  const database = await migratedTestStore('sqlite');
  const dir = tempDir('conformance');
  const registry = new ModelRegistry(
    database.store.db,
    new FolderArtifactStore(path.join(dir, 'artifacts')),
    SigningKey.loadOrCreate(path.join(dir, 'signing-key.pem')),
  );
  await registry.register({
    model: 'energy',
    bundle: bytes,
    framework: 'tfjs',
    kind: manifest.kind,
    ioSignature: manifest.signature,
    metrics: {},
    lineage: { runId: null, dataset: null, parameters: {}, codeVersion: 'test' },
  });
  const inference = new CloudInference(registry, async () => undefined);
  return {
    inference,
    signature: manifest.signature,
    close: async () => {
      await inference.close();
      await database.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

describeV2ModelSource('DeployedModels', async () => {
  const { models, signature } = await deployed();
  return { source: models, name: 'energy', version: '1', signature, close: () => models.close() };
});

describeV2ModelSource('OffloadingModels (edge-only, not enrolled)', async () => {
  const { models, signature } = await deployed();
  return { source: new OffloadingModels(models), name: 'energy', version: '1', signature, close: () => models.close() };
});

describeV2ModelSource('DriftMonitoredModels over OffloadingModels (the agent’s chain)', async () => {
  const { models, signature } = await deployed();
  const source = new DriftMonitoredModels(new OffloadingModels(models), (name) => models.serving(name));
  return { source, name: 'energy', version: '1', signature, close: () => models.close() };
});

describeV2ModelSource('CloudInference (the control plane’s registry source)', async () => {
  const { inference, signature, close } = await cloud();
  return { source: inference, name: 'energy', version: '1', signature, close };
});

describeV2ModelSource('ReplicaBalancer (no replicas: the control plane answers)', async () => {
  const { inference, signature, close } = await cloud();
  return { source: new ReplicaBalancer(inference, async () => []), name: 'energy', version: '1', signature, close };
});
