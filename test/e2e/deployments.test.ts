/**
 * Deployments end to end, with real processes: a control plane on SQLite trains forecasters on
 * the vendored PJM series, a `fogline agent` at site=plant-a gets them through its desired state
 * and serves them on the Open Inference Protocol. Steps run in order and share one cluster.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeploymentView } from '../../src/contracts/deployments.js';
import type { ModelVersionView } from '../../src/contracts/models.js';
import { FORECAST_REQUEST as REQUEST, TestCluster } from '../support/cluster.js';
import { findFile } from '../support/files.js';
import { eventually, requestJson, stopProcess } from '../support/processes.js';

describe('deployments (real processes)', { timeout: 120_000 }, () => {
  let cluster: TestCluster;
  let agentUrl: string;
  let agentDir: string;

  const api = <T>(method: string, route: string, body?: unknown) => cluster.api<T>(method, route, body);
  const startAgent = async (joinToken?: string) => {
    const agent = await cluster.startAgent('edge-a', { labels: 'site=plant-a', ...(joinToken ? { joinToken } : {}) });
    agentUrl = agent.url;
    agentDir = agent.dataDir;
    return agent.process;
  };

  /** One V2 infer call on the agent; resolves with the version that answered, throws on any failure. */
  async function inferOnAgent(): Promise<string> {
    const { status, body } = await requestJson<{ model_version: string; outputs: { data: number[] }[] }>(
      `${agentUrl}/v2/models/energy/infer`,
      { method: 'POST', body: REQUEST, timeoutMs: 10_000 },
    );
    if (status !== 200) throw new Error(`infer answered ${status}: ${JSON.stringify(body)}`);
    expect(body.outputs[0]?.data).toHaveLength(24);
    return body.model_version;
  }

  async function nodeState(): Promise<DeploymentView['nodes'][number] | undefined> {
    return (await api<DeploymentView>('GET', '/api/v1/deployments/energy')).body.nodes[0];
  }

  beforeAll(async () => {
    cluster = await TestCluster.start('deploy');
    await cluster.uploadPjme();
    for (const seed of [1, 2, 3]) expect(await cluster.trainForecaster({ seed, epochs: 2, hidden: [32] })).toBe(seed);
    await cluster.setAlias('energy', 'champion', 1);
    await startAgent(await cluster.joinToken(1));
  }, 400_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('deploys energy@champion to site=plant-a and the agent serves it over V2', async () => {
    const created = await api('POST', '/api/v1/deployments', {
      name: 'energy',
      model: 'energy@champion',
      nodeSelector: { site: 'plant-a' },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(await eventually(async () => ((await inferOnAgent()) === '1' ? true : undefined), 30_000)).toBe(true);
    expect(await eventually(async () => ((await nodeState())?.state === 'serving' ? nodeState() : undefined))).toMatchObject({
      version: 1,
      state: 'serving',
    });
    const metadata = await requestJson<{ name: string; versions: string[] }>(`${agentUrl}/v2/models/energy`);
    expect(metadata.body).toMatchObject({ name: 'energy', versions: ['1'] });
    expect((await requestJson(`${agentUrl}/v2/models/energy/versions/2/infer`, { method: 'POST', body: REQUEST })).status).toBe(404);
  });

  it('switches to the version the alias moves to while requests keep flowing, with none failing', async () => {
    const failures: string[] = [];
    const seen: string[] = [];
    let stop = false;
    let movedAt = 0;
    let switchedAt = 0;
    const client = async () => {
      while (!stop) {
        try {
          const version = await inferOnAgent();
          seen.push(version);
          if (version === '2' && !switchedAt) switchedAt = Date.now();
        } catch (error) {
          failures.push((error as Error).message);
        }
      }
    };
    const clients = [client(), client(), client(), client()];
    await eventually(async () => (seen.length >= 20 ? true : undefined));
    movedAt = Date.now();
    expect((await api('PUT', '/api/v1/models/energy/aliases/champion', { version: 2 })).status).toBe(200);
    await eventually(async () => (switchedAt ? true : undefined), 30_000, 50);
    const after = seen.length;
    await eventually(async () => (seen.length >= after + 20 ? true : undefined));
    stop = true;
    await Promise.all(clients);
    expect(failures).toEqual([]);
    expect(seen.slice(-10).every((v) => v === '2')).toBe(true);
    // Download, verify, load and warm-up included; the long poll itself answers in one round trip.
    console.log(`alias move to first answer from version 2: ${switchedAt - movedAt} ms over ${seen.length} requests`);
    expect(switchedAt - movedAt).toBeLessThan(10_000);
  });

  it('refuses a corrupt artifact, reports it failed with the reason, and keeps serving the old version', async () => {
    const v3 = (await api<ModelVersionView>('GET', '/api/v1/models/energy/versions/3')).body;
    const stored = findFile(cluster.serverDir, v3.artifact.sha256);
    const bytes = fs.readFileSync(stored);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    fs.writeFileSync(stored, bytes);
    expect((await api('PUT', '/api/v1/models/energy/aliases/champion', { version: 3 })).status).toBe(200);
    const failed = await eventually(async () => {
      const state = await nodeState();
      return state?.state === 'failed' ? state : undefined;
    }, 30_000);
    expect(failed).toMatchObject({ version: 3, servingVersion: 2, reason: expect.stringMatching(/sha256.*still serving version 2/) });
    expect(await inferOnAgent()).toBe('2');
    expect(fs.existsSync(path.join(agentDir, 'artifacts', v3.artifact.sha256))).toBe(false);
  });

  it('restarted while the control plane is down, the agent serves its last good version from its cache', async () => {
    // The agent first: a server stopping while the agent's long poll is open waits for that poll.
    await stopProcess(cluster.agents.get('edge-a')!.process);
    await stopProcess(cluster.server);
    await startAgent();
    expect(await eventually(async () => inferOnAgent(), 20_000)).toBe('2');
  });

  it('when the link returns, resyncs without downloading again what it has cached', async () => {
    await cluster.startServer();
    const { sha256 } = (await api<ModelVersionView>('GET', '/api/v1/models/energy/versions/2')).body.artifact;
    const cached = path.join(agentDir, 'artifacts', sha256);
    const inode = fs.statSync(cached).ino;
    expect((await api('PUT', '/api/v1/models/energy/aliases/champion', { version: 2 })).status).toBe(200);
    const serving = await eventually(async () => {
      const state = await nodeState();
      return state?.state === 'serving' && state.version === 2 ? state : undefined;
    }, 30_000);
    expect(serving.reason).toBeNull();
    expect(fs.statSync(cached).ino).toBe(inode);
    expect(fs.readdirSync(path.join(agentDir, 'artifacts')).filter((name) => name.endsWith('.partial'))).toEqual([]);
    expect(await inferOnAgent()).toBe('2');
  });
});
