import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlaneLink } from '../sync/control-plane-link.js';
import { type ArtifactServer, startArtifactServer } from '../test-support/artifact-server.js';
import { signedDeployment, testSigningKey } from '../test-support/signed-deployment.js';
import { ArtifactCache } from './artifact-cache.js';
import { ArtifactRefused } from './artifact-refused.js';
import { REGISTRY_KEY_FILE, RegistryKey } from './registry-key.js';

describe('ArtifactCache', () => {
  const key = testSigningKey();
  let server: ArtifactServer;
  const signal = new AbortController().signal;

  beforeAll(async () => {
    server = await startArtifactServer(key.publicKeyPem);
  });
  afterAll(async () => {
    await server.close();
  });

  function cacheIn(dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fogline-cache-')), limit = 1 << 30) {
    const link = new ControlPlaneLink(server.url, 'n1', 'fgl.node.secret');
    return { dataDir, cache: new ArtifactCache(dataDir, new RegistryKey(dataDir, () => link.registryPublicKey()), link, limit) };
  }

  it('downloads, verifies and keeps a signed artifact under its sha256, and reads it back without the network', async () => {
    const bytes = randomBytes(50_000);
    const deployment = signedDeployment(key, bytes, 1);
    server.files.set(deployment.downloadPath, { bytes });
    const { cache, dataDir } = cacheIn();
    let downloads = 0;
    expect(Buffer.from(await cache.fetch(deployment, signal, () => downloads++)).equals(bytes)).toBe(true);
    expect(fs.readFileSync(cache.pathOf(deployment.sha256)).equals(bytes)).toBe(true);
    expect(fs.readFileSync(path.join(dataDir, REGISTRY_KEY_FILE), 'utf8')).toBe(key.publicKeyPem);
    server.files.delete(deployment.downloadPath);
    await cache.fetch(deployment, signal, () => downloads++);
    expect(downloads).toBe(1);
  });

  it('fetches the same bytes for two deployments at once with one download, and verifies each', async () => {
    // Two models trained alike can have byte-identical bundles: one file in the cache, two signatures.
    const bytes = randomBytes(300_000);
    const calm = signedDeployment(key, bytes, 1, 'calm', 'calm');
    const energy = signedDeployment(key, bytes, 4, 'energy', 'energy');
    server.files.set(calm.downloadPath, { bytes });
    server.files.set(energy.downloadPath, { bytes });
    const { cache } = cacheIn();
    const before = server.ranges.length;
    const [a, b] = await Promise.all([cache.fetch(calm, signal), cache.fetch(energy, signal)]);
    expect(Buffer.from(a).equals(bytes) && Buffer.from(b).equals(bytes)).toBe(true);
    expect(server.ranges.length - before).toBe(1);
    expect(fs.readdirSync(cache.dir).filter((name) => name.endsWith('.partial'))).toEqual([]);
  });

  it('resumes an interrupted download with a Range request', async () => {
    const bytes = randomBytes(200_000);
    const deployment = signedDeployment(key, bytes, 2);
    server.files.set(deployment.downloadPath, { bytes, cutAfter: 70_000 });
    server.ranges.length = 0;
    const { cache } = cacheIn();
    await expect(cache.fetch(deployment, signal)).rejects.toThrow();
    expect(cache.has(deployment.sha256)).toBe(false);
    expect(Buffer.from(await cache.fetch(deployment, signal)).equals(bytes)).toBe(true);
    expect(server.ranges[0]).toBe('');
    expect(server.ranges[1]).toMatch(/^bytes=[1-9]\d*-$/);
  });

  it.each([
    ['corrupt', (b: Buffer) => Buffer.concat([Buffer.from([b[0]! ^ 0xff]), b.subarray(1)]), /sha256/],
    ['truncated', (b: Buffer) => b.subarray(0, b.length - 10), /truncated/],
  ])('refuses a %s artifact and caches nothing', async (_, damage, reason) => {
    const bytes = randomBytes(10_000);
    const deployment = signedDeployment(key, bytes, 3);
    server.files.set(deployment.downloadPath, { bytes: damage(bytes) });
    const { cache } = cacheIn();
    await expect(cache.fetch(deployment, signal)).rejects.toThrow(reason);
    expect(fs.readdirSync(cache.dir)).toEqual([]);
  });

  it('refuses an artifact signed by another key, or for another version', async () => {
    const bytes = randomBytes(1000);
    const forged = signedDeployment(testSigningKey(), bytes, 4);
    server.files.set(forged.downloadPath, { bytes });
    const { cache } = cacheIn();
    await expect(cache.fetch(forged, signal)).rejects.toThrow(/not signed by the registry/);
    const replayed = { ...signedDeployment(key, bytes, 4), version: 5 };
    await expect(cache.fetch(replayed, signal)).rejects.toBeInstanceOf(ArtifactRefused);
  });

  it('refuses everything once the control plane presents another registry key than the pinned one', async () => {
    const bytes = randomBytes(1000);
    const deployment = signedDeployment(key, bytes, 6);
    server.files.set(deployment.downloadPath, { bytes });
    const { dataDir } = cacheIn();
    const other = testSigningKey();
    fs.writeFileSync(path.join(dataDir, REGISTRY_KEY_FILE), other.publicKeyPem);
    const { cache } = cacheIn(dataDir);
    await expect(cache.fetch(deployment, signal)).rejects.toThrow(/differs from the one pinned/);
  });

  it('drops a cached file damaged on disk and fetches a good copy', async () => {
    const bytes = randomBytes(5000);
    const deployment = signedDeployment(key, bytes, 7);
    server.files.set(deployment.downloadPath, { bytes });
    const { cache } = cacheIn();
    await cache.fetch(deployment, signal);
    fs.writeFileSync(cache.pathOf(deployment.sha256), 'garbage');
    let downloads = 0;
    expect(Buffer.from(await cache.fetch(deployment, signal, () => downloads++)).equals(bytes)).toBe(true);
    expect(downloads).toBe(1);
  });

  it('evicts the least recently used artifacts not in use beyond its limit', async () => {
    const { cache } = cacheIn(undefined, 25_000);
    const deployments = [];
    for (let version = 10; version < 13; version++) {
      const bytes = randomBytes(10_000);
      const deployment = signedDeployment(key, bytes, version);
      server.files.set(deployment.downloadPath, { bytes });
      await cache.fetch(deployment, signal);
      const past = new Date(Date.now() - (20 - version) * 60_000);
      fs.utimesSync(cache.pathOf(deployment.sha256), past, past);
      deployments.push(deployment);
    }
    const [oldest, middle, newest] = deployments.map((d) => d.sha256) as [string, string, string];
    expect(cache.evict(new Set([oldest]))).toEqual([middle]);
    expect(cache.has(oldest) && cache.has(newest)).toBe(true);
    expect(cache.sizeBytes()).toBe(20_000);
  });
});
