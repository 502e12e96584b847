import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeploymentStatusReport, DesiredDeployment } from '../../contracts/deployments.js';
import { ArtifactCache } from '../artifacts/artifact-cache.js';
import { OffloadSettings } from '../offload/offload-settings.js';
import { RegistryKey } from '../artifacts/registry-key.js';
import { DeployedModels } from '../runtime/deployed-models.js';
import { type ArtifactServer, startArtifactServer } from '../test-support/artifact-server.js';
import { signedDeployment, testSigningKey } from '../test-support/signed-deployment.js';
import { trainedBundle } from '../test-support/trained-bundle.js';
import { AgentStateFiles } from './agent-state-files.js';
import { ControlPlaneLink } from './control-plane-link.js';
import { Reconciler } from './reconciler.js';
import { StatusReporter } from './status-reporter.js';

const log = Fastify({ logger: false }).log;

describe('Reconciler', { timeout: 60_000 }, () => {
  const key = testSigningKey();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fogline-reconcile-'));
  let server: ArtifactServer;
  let bytes: Uint8Array;
  const reports: DeploymentStatusReport[] = [];

  function agentParts(serverUrl: string) {
    const link = new ControlPlaneLink(serverUrl, 'n1', 'fgl.node.secret');
    const models = new DeployedModels();
    const cache = new ArtifactCache(dataDir, new RegistryKey(dataDir, () => link.registryPublicKey()), link, 1 << 30);
    const status = new StatusReporter(async (report) => void reports.push(structuredClone(report)), log);
    const settings = new OffloadSettings((name) => models.serving(name));
    return { models, settings, status, reconciler: new Reconciler(models, cache, new AgentStateFiles(dataDir), status, log, settings) };
  }

  function publish(version: number, content = bytes): DesiredDeployment {
    const deployment = signedDeployment(key, content, version);
    server.files.set(deployment.downloadPath, { bytes: content });
    return deployment;
  }

  beforeAll(async () => {
    server = await startArtifactServer(key.publicKeyPem);
    bytes = await trainedBundle();
  });
  afterAll(async () => {
    await server.close();
  });

  it('takes new joint inference settings for the version it serves without loading it again (the cloud alias moved)', async () => {
    const { settings, reconciler } = agentParts(server.url);
    const v1 = publish(1);
    await reconciler.apply([v1]);
    expect(settings.joint('energy')).toBeUndefined();
    const joint = (version: number) => ({
      model: 'energy-large',
      version,
      rule: 'interval-width' as const,
      threshold: 0.5,
      inferPath: `/v2/models/energy-large/versions/${version}/infer`,
    });
    server.ranges.length = 0;
    await reconciler.apply([{ ...v1, joint: joint(4) }]);
    expect(settings.joint('energy')).toEqual(joint(4));
    await reconciler.apply([{ ...v1, joint: joint(5) }]);
    expect(settings.joint('energy')?.inferPath).toBe('/v2/models/energy-large/versions/5/infer');
    expect(server.ranges).toEqual([]);
    await reconciler.apply([v1]);
    expect(settings.joint('energy')).toBeUndefined();
    await reconciler.apply([]);
  });

  it('downloads, loads and serves; switches versions; refuses a corrupt one and keeps serving the old', async () => {
    const { models, status, reconciler } = agentParts(server.url);
    await reconciler.apply([publish(1)]);
    expect(models.serving('energy')?.version).toBe(1);
    expect(status.get('energy')).toEqual({ name: 'energy', version: 1, state: 'serving', servingVersion: 1 });

    const v2 = publish(2);
    await reconciler.apply([v2]);
    expect(models.serving('energy')?.version).toBe(2);
    // Applying the same state again changes nothing and downloads nothing.
    server.ranges.length = 0;
    await reconciler.apply([v2], false);
    expect(server.ranges).toEqual([]);

    // Version 3 is other bytes than the cached ones; the server sends them damaged.
    const genuine = Buffer.concat([bytes, Buffer.from('v3')]);
    const corrupt = signedDeployment(key, genuine, 3);
    const damaged = Buffer.from(genuine);
    damaged[damaged.length - 1]! ^= 0xff;
    server.files.set(corrupt.downloadPath, { bytes: damaged });
    await reconciler.apply([corrupt]);
    expect(models.serving('energy')?.version).toBe(2);
    expect(status.get('energy')).toMatchObject({
      version: 3,
      state: 'failed',
      servingVersion: 2,
      reason: expect.stringMatching(/sha256.*still serving version 2/),
    });
    // The same refused revision again is not downloaded on every poll.
    server.ranges.length = 0;
    await reconciler.apply([corrupt], false);
    expect(server.ranges).toEqual([]);
    expect(reports.at(-1)?.deployments).toEqual([status.get('energy')]);

    await reconciler.apply([v2]);
    await models.close();
  });

  it('serves what it served before a restart from the cache, with the control plane unreachable', async () => {
    const files = new AgentStateFiles(dataDir);
    expect(files.loadServing().map((d) => d.version)).toEqual([2]);
    const { models, reconciler } = agentParts('http://127.0.0.1:9');
    await reconciler.apply(files.loadServing());
    expect(models.serving('energy')?.version).toBe(2);
    await models.close();
  });

  it('unloads a deployment that is no longer desired', async () => {
    const { models, status, reconciler } = agentParts(server.url);
    await reconciler.apply([publish(2)]);
    await reconciler.apply([]);
    expect(models.names()).toEqual([]);
    expect(status.get('energy')).toBeUndefined();
  });
});
