/**
 * A replicated installation end to end (issue 16), every part a real process: two `fogline server`
 * replicas on one database, their change events over Redis, bundles, datasets and federated
 * updates in the database (--artifact-store database), one signing key; Debian's nginx in front;
 * two `fogline agent`s, one reaching the control plane through nginx, the other through replica b.
 *
 * On PostgreSQL: a token revoked through one replica is refused by the other within a second; an
 * alias moved through one replica reaches both agents with no failed inference request; the leader
 * killed (SIGKILL) in the middle of a canary's soak, then in the middle of a federated round, and
 * the other replica finishes each, every step and round once. On MariaDB, the same smoke with one
 * agent: an alias move reaches it, and a killed leader hands over.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { DeploymentView } from '../../src/contracts/deployments.js';
import type { FederatedJobView } from '../../src/contracts/federated.js';
import { beforeAllOrFail } from '../support/before-all-or-fail.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { requireBinary } from '../support/processes.js';
import { eventually, requestJson, tempDir } from '../support/processes.js';
import { assertRedisReachable, testRedisUrl } from '../support/redis.js';
import { type AgentProcess, inferenceStream, msUntil, ReplicaSet } from '../support/replicas.js';

const FIXTURES = fileURLToPath(new URL('../../src/ml/onnx/fixtures/', import.meta.url));
/** A PyTorch export: features FP32 [batch, 4] → probabilities FP32 [batch, 3]; cheap to import, load and run. */
const TINY = fs.readFileSync(path.join(FIXTURES, 'tiny-mlp.onnx'));
const TINY_INPUT = (JSON.parse(fs.readFileSync(path.join(FIXTURES, 'tiny-mlp.expected.json'), 'utf8')) as { input: number[][] }).input[0]!;
const TINY_REQUEST = { inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: TINY_INPUT }] };
const DIGITS_CSV = fs.readFileSync(fileURLToPath(new URL('../../data/optdigits/optdigits.csv', import.meta.url)), 'utf8');
/** The lease's ttl (src/cluster/leader-lease.ts): a killed leader's lease is taken within it plus the follower's 1 s retry. */
const TTL_MS = 10_000;
/** Nodes heartbeat every second: placement waits for a node's first heartbeat. */
const HEARTBEAT_EVERY_SECOND = ['--heartbeat-interval', '1'];

/** Imports tiny-mlp.onnx as the next version of `model` through `base`; each file name makes a different bundle. */
async function importTiny(set: ReplicaSet, base: string, model: string, tag: string): Promise<number> {
  const url = set.replicas.get(base)?.url ?? base;
  const response = await fetch(`${url}/api/v1/models/${model}/versions?filename=tiny-${tag}.onnx`, {
    method: 'POST',
    headers: { authorization: `Bearer ${set.adminToken}`, 'content-type': 'application/octet-stream' },
    body: TINY,
    signal: AbortSignal.timeout(60_000),
  });
  const body = (await response.json()) as { version: number };
  expect(response.status, JSON.stringify(body)).toBe(201);
  return body.version;
}

async function setAlias(set: ReplicaSet, base: string, model: string, alias: string, version: number): Promise<void> {
  const moved = await set.api(base, 'PUT', `/api/v1/models/${model}/aliases/${alias}`, { version });
  expect(moved.status, JSON.stringify(moved.body)).toBe(200);
}

async function createDeployment(set: ReplicaSet, base: string, body: object): Promise<void> {
  const created = await set.api(base, 'POST', '/api/v1/deployments', body);
  expect(created.status, JSON.stringify(created.body)).toBe(201);
}

/** The deployment once every node serves `version` and its rollout is stable on it. */
function servedEverywhere(set: ReplicaSet, base: string, name: string, version: number, nodes: number): Promise<DeploymentView> {
  return eventually(
    async () => {
      const view = (await set.api<DeploymentView>(base, 'GET', `/api/v1/deployments/${name}`)).body;
      const done =
        view.rollout.phase === 'stable' &&
        view.rollout.stableVersion === version &&
        view.nodes.length === nodes &&
        view.nodes.every((n) => n.state === 'serving' && n.version === version);
      return done ? view : undefined;
    },
    60_000,
    200,
  );
}

/** Resolves once the agent itself answers V2 requests for `deployment` with `version`. */
function agentServes(agent: AgentProcess, deployment: string, version: number): Promise<number> {
  return msUntil(async () => {
    const answer = await requestJson<{ model_version?: string }>(`${agent.url}/v2/models/${deployment}/infer`, {
      method: 'POST',
      body: TINY_REQUEST,
    }).catch(() => undefined);
    return answer?.status === 200 && answer.body.model_version === String(version);
  }, 60_000);
}

describe('two replicas on PostgreSQL behind nginx, with Redis and two agents (real processes)', { timeout: 120_000 }, () => {
  let database: TestDatabase | undefined;
  let set: ReplicaSet;
  let proxy = '';
  const agents: AgentProcess[] = [];
  const flDir = tempDir('replicated-fl');

  beforeAllOrFail(async () => {
    await assertRedisReachable();
    database = await createTestDatabase('postgres');
    set = new ReplicaSet({ db: database.url, redis: testRedisUrl(), args: HEARTBEAT_EVERY_SECOND });
    await set.startReplicas(['a', 'b']);
    proxy = (await set.startNginx(requireBinary('nginx'))).url;
    // Two versions for the alias moves (through a), all before any agent asks for one.
    for (const tag of ['one', 'two', 'three']) await importTiny(set, 'a', 'tiny', tag);
    await setAlias(set, 'a', 'tiny', 'prod', 1);
    await setAlias(set, 'a', 'tiny', 'canary', 1);
    // Each agent holds half the digits, for the federated job.
    const lines = DIGITS_CSV.trim().split('\n');
    const join = await set.joinToken(proxy, 2);
    // edge-1 reaches the control plane through nginx, edge-2 through replica b only.
    for (const [i, [name, server]] of [
      ['edge-1', proxy],
      ['edge-2', set.replica('b').url],
    ].entries()) {
      const data = path.join(flDir, `${name}.csv`);
      fs.writeFileSync(data, `${lines.filter((_, row) => row % 2 === i).join('\n')}\n`);
      agents.push(await set.startAgent(name!, server!, { joinToken: join, labels: 'site=plant-a,fl=yes', args: ['--fl-data', data] }));
    }
    await createDeployment(set, proxy, { name: 'tiny', model: 'tiny@prod', nodeSelector: { site: 'plant-a' }, strategy: 'all' });
    await createDeployment(set, proxy, {
      name: 'tiny-canary',
      model: 'tiny@canary',
      nodeSelector: { site: 'plant-a' },
      strategy: 'canary',
      canaryPercent: 50,
      // Longer than a failover (ttl + 1 s): the soak a killed leader began, the next one ends.
      soakSeconds: 15,
    });
    await servedEverywhere(set, proxy, 'tiny', 1, 2);
    await servedEverywhere(set, proxy, 'tiny-canary', 1, 2);
  }, 120_000);

  afterAll(async () => {
    await set?.stop();
    await database?.drop();
    fs.rmSync(flDir, { recursive: true, force: true });
  });

  it('a token revoked through one replica is refused by the other within a second', async () => {
    expect(await set.role('a')).toBe('leader');
    expect(await set.role('b')).toBe('follower');
    const made = await set.api<{ token: string; info: { id: string } }>('a', 'POST', '/api/v1/tokens', { name: 'ops', role: 'operator' });
    expect(made.status).toBe(201);
    const asOps = (replica: string) =>
      fetch(`${set.replica(replica).url}/api/v1/nodes`, { headers: { authorization: `Bearer ${made.body.token}` } });
    // b has looked the token up and keeps it cached (5 s): only the event tells it.
    expect((await asOps('b')).status).toBe(200);
    expect((await set.api('a', 'DELETE', `/api/v1/tokens/${made.body.info.id}`)).status).toBe(204);
    const ms = await msUntil(async () => (await asOps('b')).status === 401, 1000);
    console.log(`token revoked through replica a refused by replica b after ${ms.toFixed(0)} ms`);
    expect(((await (await asOps('b')).json()) as { code: string }).code).toBe('FOGLINE_ERR_AUTH_REVOKED');
  });

  it('an alias moved through replica a reaches both agents (long-polling through nginx and b) with no failed inference', async () => {
    const streams = agents.map((agent) => inferenceStream(`${agent.url}/v2/models/tiny/infer`, TINY_REQUEST));
    await new Promise((resolve) => setTimeout(resolve, 500));
    const moved = performance.now();
    await setAlias(set, 'a', 'tiny', 'prod', 2);
    const switched = await Promise.all(agents.map((agent) => agentServes(agent, 'tiny', 2)));
    const ms = performance.now() - moved;
    await new Promise((resolve) => setTimeout(resolve, 500));
    const results = await Promise.all(streams.map((stream) => stream.stop()));
    console.log(
      `alias moved through replica a: both agents serve v2 after ${ms.toFixed(0)} ms (each ${switched.map((t) => t.toFixed(0)).join(', ')} ms); ` +
        `requests ${results.map((r) => r.versions.length).join(' + ')}, failed ${results.map((r) => r.failures.length).join(' + ')}`,
    );
    for (const result of results) {
      expect(result.failures).toEqual([]);
      // The stream saw the switch: version 1, then version 2 only.
      expect(result.versions[0]).toBe('1');
      expect(result.versions.at(-1)).toBe('2');
      expect(result.versions.slice(result.versions.indexOf('2'))).not.toContain('1');
    }
    await servedEverywhere(set, 'b', 'tiny', 2, 2);
  });

  it('kill -9 of the leader during a canary soak: the other replica finishes the rollout, each step once', async () => {
    // a leads (it started first); edge-2 keeps its replica, b.
    const leader = await set.leader();
    expect(leader.name).toBe('a');
    const survivor = 'b';
    const streams = agents.map((agent) => inferenceStream(`${agent.url}/v2/models/tiny-canary/infer`, TINY_REQUEST, 50));
    await setAlias(set, survivor, 'tiny', 'canary', 2);
    const soaking = await eventually(
      async () => {
        const view = (await set.api<DeploymentView>(proxy, 'GET', '/api/v1/deployments/tiny-canary')).body;
        return view.rollout.phase === 'soaking' ? view : undefined;
      },
      30_000,
      100,
    );
    expect(soaking.nodes.map((n) => n.assignedVersion).sort()).toEqual([1, 2]);

    await set.kill(leader.name);
    const killedAt = performance.now();
    const killedWall = Date.now();
    const leadsAfter = await set.leadsWithin(survivor, TTL_MS + 5000);
    const done = await servedEverywhere(set, proxy, 'tiny-canary', 2, 2);
    const doneAfter = performance.now() - killedAt;
    const results = await Promise.all(streams.map((stream) => stream.stop()));
    console.log(
      `leader ${leader.name} killed during the soak: ${survivor} leads after ${leadsAfter.toFixed(0)} ms, rollout completed after ${doneAfter.toFixed(0)} ms; ` +
        `requests ${results.map((r) => r.versions.length).join(' + ')}, failed ${results.map((r) => r.failures.length).join(' + ')}`,
    );
    expect(leadsAfter).toBeLessThanOrEqual(TTL_MS + 2000);
    // The rollout of version 2: each step once; the first two before the kill, the promotion after
    // it (only the survivor was left to make it).
    const steps = done.rollout.history.filter((event) => event.version === 2);
    expect(steps.map((event) => event.event)).toEqual(['started', 'canary-healthy', 'promoted', 'completed']);
    expect(steps.map((event) => Date.parse(event.at) > killedWall)).toEqual([false, false, true, true]);
    for (const agent of agents) expect(await agentServes(agent, 'tiny-canary', 2)).toBeGreaterThanOrEqual(0);
    for (const result of results) expect(result.failures).toEqual([]);
  });

  it('kill -9 of the leader during a federated round: the other replica finishes the job, no round counted twice', async () => {
    // a, killed above, comes back as a follower; b leads.
    await set.start('a');
    expect([await set.role('a'), await set.role('b')]).toEqual(['follower', 'leader']);
    const rounds = 4;
    const started = await set.api<FederatedJobView>(proxy, 'POST', '/api/v1/federated/jobs', {
      model: 'digits-replicated',
      datasetKind: 'digits',
      nodeSelector: { fl: 'yes' },
      rounds,
      minFitClients: 2,
      fractionFit: 1,
      // Longer than a failover: the round the killed leader opened is not timed out meanwhile.
      roundTimeoutSeconds: 60,
      localEpochs: 1,
    });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    const job = async () => (await set.api<FederatedJobView>(proxy, 'GET', `/api/v1/federated/jobs/${started.body.id}`)).body;
    // Killed once round 1 is in, with round 2 open.
    const before = await eventually(
      async () => {
        const view = await job();
        return view.roundsCompleted >= 1 && view.rounds!.some((r) => r.status === 'open') ? view : undefined;
      },
      60_000,
      50,
    );
    await set.kill('b');
    const killedAt = performance.now();
    // b comes back once a leads (a restart at once could take its own lease back first): edge-2,
    // which talks to b only, sends its updates again then.
    const leadsAfter = await set.leadsWithin('a', TTL_MS + 5000);
    await set.start('b');
    const done = await eventually(async () => {
      const view = await job();
      return view.status === 'running' ? undefined : view;
    }, 90_000);
    console.log(
      `leader b killed with ${before.roundsCompleted} round(s) aggregated: a leads after ${leadsAfter.toFixed(0)} ms, ` +
        `job ${done.status} after ${(performance.now() - killedAt).toFixed(0)} ms`,
    );
    expect(done.status, JSON.stringify({ phase: done.phase, error: done.error })).toBe('succeeded');
    expect(done.roundsCompleted).toBe(rounds);
    const aggregated = done.rounds!.filter((r) => r.status === 'aggregated');
    expect(aggregated.map((r) => r.round)).toEqual(Array.from({ length: rounds }, (_, i) => i + 1));
    // The rounds aggregated before the kill are the same rows, not aggregated again.
    const earlier = before.rounds!.filter((r) => r.status === 'aggregated');
    expect(aggregated.slice(0, earlier.length).map((r) => r.finishedAt)).toEqual(earlier.map((r) => r.finishedAt));
    for (const round of aggregated) expect(round.metrics!.participants).toBe(2);
    expect(done.registeredVersion).toBe(1);
  });
});

describe('two replicas on MariaDB with an agent (real processes)', { timeout: 90_000 }, () => {
  let database: TestDatabase | undefined;
  let set: ReplicaSet;
  let agent: AgentProcess;

  beforeAllOrFail(async () => {
    await assertRedisReachable();
    database = await createTestDatabase('mysql');
    set = new ReplicaSet({ db: database.url, redis: testRedisUrl(), args: HEARTBEAT_EVERY_SECOND });
    await set.startReplicas(['a', 'b']);
    for (const tag of ['one', 'two', 'three']) await importTiny(set, 'a', 'tiny', tag);
    await setAlias(set, 'a', 'tiny', 'prod', 1);
    // The agent talks to the follower only.
    agent = await set.startAgent('edge-m', set.replica('b').url, { joinToken: await set.joinToken('b', 1), labels: 'site=m' });
    await createDeployment(set, 'b', { name: 'tiny', model: 'tiny@prod', nodeSelector: { site: 'm' } });
    await agentServes(agent, 'tiny', 1);
  }, 90_000);

  afterAll(async () => {
    await set?.stop();
    await database?.drop();
  });

  it('an alias move through the leader reaches an agent of the follower; a killed leader hands over', async () => {
    expect([await set.role('a'), await set.role('b')]).toEqual(['leader', 'follower']);
    await setAlias(set, 'a', 'tiny', 'prod', 2);
    const reached = await agentServes(agent, 'tiny', 2);
    console.log(`MariaDB: alias moved through replica a served by b's agent after ${reached.toFixed(0)} ms`);

    await set.kill('a');
    const leadsAfter = await set.leadsWithin('b', TTL_MS + 5000);
    console.log(`MariaDB: replica a killed, b leads after ${leadsAfter.toFixed(0)} ms`);
    expect(leadsAfter).toBeLessThanOrEqual(TTL_MS + 2000);
    expect(await set.leads('b')).toBe(true);
    // The new leader's rollout controller moves the next rollout.
    await setAlias(set, 'b', 'tiny', 'prod', 3);
    await agentServes(agent, 'tiny', 3);
    await servedEverywhere(set, 'b', 'tiny', 3, 1);
  });
});
