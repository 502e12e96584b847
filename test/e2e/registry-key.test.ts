/**
 * The registry's public key is handed to an agent at enrolment, over the channel it enrolled on,
 * instead of being trusted on the agent's first artifact download. Real processes: an agent pins
 * the key before it has anything to download; an agent enrolled before (no pin on disk) keeps
 * working, pinning on first use as it did; a stale pin left in a reused data folder is replaced
 * by the key of the control plane the node enrols with.
 */
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster } from '../support/cluster.js';
import { eventually, stopProcess, tempDir } from '../support/processes.js';

describe('registry key at enrolment (real processes)', { timeout: 180_000 }, () => {
  let cluster: TestCluster;
  let registryKey: string;
  const pinned = (agent: string) => fs.readFileSync(path.join(cluster.agents.get(agent)!.dataDir, 'registry-key.pem'), 'utf8');
  const normalise = (pem: string) => pem.replace(/\s+/g, '');

  beforeAll(async () => {
    cluster = await TestCluster.start('registry-key');
    await cluster.uploadPjme();
    expect(await cluster.trainForecaster({ epochs: 1, hidden: [8], seed: 1 })).toBe(1);
    const created = await cluster.api('POST', '/api/v1/deployments', { name: 'energy', model: 'energy@1', nodeSelector: { site: 'a' } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    registryKey = (await cluster.api<{ publicKeyPem: string }>('GET', '/api/v1/registry/public-key')).body.publicKeyPem;
  }, 150_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('pins the key the enrolment hands over, before the node has anything to download', async () => {
    await cluster.startAgent('idle', { labels: 'site=b', joinToken: await cluster.joinToken(1) });
    expect(normalise(pinned('idle'))).toBe(normalise(registryKey));
    expect(fs.readdirSync(path.join(cluster.agents.get('idle')!.dataDir, 'artifacts'))).toEqual([]);
    expect(fs.statSync(path.join(cluster.agents.get('idle')!.dataDir, 'registry-key.pem')).mode & 0o777).toBe(0o600);
  });

  it('keeps an agent enrolled before working: no pin on disk, it pins on first use and serves', async () => {
    const agent = await cluster.startAgent('older', { labels: 'site=a', joinToken: await cluster.joinToken(1) });
    await eventually(async () => ((await cluster.infer('older', 'energy')) === '1' ? true : undefined), 60_000);
    expect(await stopProcess(agent.process)).toBe(0);
    // What an agent enrolled by an earlier control plane has: node.json, and no key until its first download.
    fs.rmSync(path.join(agent.dataDir, 'registry-key.pem'));
    fs.rmSync(path.join(agent.dataDir, 'artifacts'), { recursive: true });
    fs.rmSync(path.join(agent.dataDir, 'serving.json'), { force: true });
    await cluster.startAgent('older');
    await eventually(async () => ((await cluster.infer('older', 'energy')) === '1' ? true : undefined), 60_000);
    expect(normalise(pinned('older'))).toBe(normalise(registryKey));
  });

  it('replaces a stale pin in a reused data folder with the key of the control plane it enrols with', async () => {
    const dataDir = tempDir('registry-key-reused');
    const stale = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    fs.writeFileSync(path.join(dataDir, 'registry-key.pem'), stale, { mode: 0o600 });
    cluster.agents.set('reused', { name: 'reused', dataDir, process: undefined!, url: '' });
    const agent = await cluster.startAgent('reused', { labels: 'site=a', joinToken: await cluster.joinToken(1) });
    expect(normalise(pinned('reused'))).toBe(normalise(registryKey));
    expect(agent.process.output()).toMatch(/registry-key\.pem held another registry key: replaced/);
    await eventually(async () => ((await cluster.infer('reused', 'energy')) === '1' ? true : undefined), 60_000);
  });
});
