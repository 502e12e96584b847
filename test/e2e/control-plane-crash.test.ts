/**
 * `kill -9` of the control plane in the middle of everything at once — a canary rollout soaking,
 * a pipeline run training, a burst of enrolments — then a restart on the same data dir: no
 * half-written rows, the run is taken over and finishes once (one version), the rollout carries on from its
 * stored state and promotes, and every enrolment is either whole or absent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/client/api-client.js';
import type { DeploymentView } from '../../src/contracts/deployments.js';
import type { RunView } from '../../src/contracts/runs.js';
import { TestCluster } from '../support/cluster.js';
import { eventually } from '../support/processes.js';

describe('control plane killed with SIGKILL mid-work', { timeout: 240_000 }, () => {
  let cluster: TestCluster;
  const api = <T>(method: string, route: string, body?: unknown) => cluster.api<T>(method, route, body);
  const runOf = async (id: string) => (await api<RunView>('GET', `/api/v1/runs/${id}`)).body;

  beforeAll(async () => {
    cluster = await TestCluster.start('crash');
    await cluster.uploadPjme();
    for (const seed of [1, 2]) expect(await cluster.trainForecaster({ seed })).toBe(seed);
    await cluster.setAlias('energy', 'champion', 1);
    const joinToken = await cluster.joinToken(2);
    await Promise.all(['edge-1', 'edge-2'].map((name) => cluster.startAgent(name, { labels: 'site=plant-a', joinToken })));
    await cluster.nodesOnline(2);
  }, 300_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('restarts into a consistent state and carries on', async () => {
    const created = await api('POST', '/api/v1/deployments', {
      name: 'energy',
      model: 'energy@champion',
      nodeSelector: { site: 'plant-a' },
      strategy: 'canary',
      canaryPercent: 50,
      soakSeconds: 8,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    await eventually(async () => {
      const view = (await api<DeploymentView>('GET', '/api/v1/deployments/energy')).body;
      return view.rollout.phase === 'stable' && view.nodes.every((n) => n.state === 'serving' && n.version === 1) ? view : undefined;
    }, 60_000);

    // Everything in flight at once: a canary soaking, a long training run, enrolments.
    expect((await api('PUT', '/api/v1/models/energy/aliases/champion', { version: 2 })).status).toBe(200);
    await eventually(async () => {
      const view = (await api<DeploymentView>('GET', '/api/v1/deployments/energy')).body;
      return view.rollout.phase === 'soaking' ? view : undefined;
    }, 30_000);
    const run = await cluster.startForecastRun({ seed: 3, epochs: 20 });
    await eventually(async () => ((await runOf(run)).status === 'running' ? true : undefined), 30_000, 50);
    const join = (
      await api<{ token: string; info: { id: string } }>('POST', '/api/v1/tokens', { name: 'burst', role: 'join', maxUses: 40 })
    ).body;
    const client = new ApiClient({ server: cluster.url });
    const enrolments = Array.from({ length: 30 }, (_, i) =>
      client.enroll(join.token, { name: `burst-${i}`, role: 'edge' }).then(
        () => 'ok',
        () => 'lost',
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 30));
    cluster.server.child.kill('SIGKILL');
    await cluster.server.exited;
    const outcomes = await Promise.all(enrolments);

    await cluster.startServer();
    // The run outlives its process: queued again at the restart, taken over as a second attempt once
    // its old holder has not reported for 15 s, finished once, with one version registered.
    const after = await cluster.finishedRun(run);
    expect(after.error).toBeNull();
    expect(after).toMatchObject({ status: 'succeeded', attempt: 2, registeredVersion: 3 });
    const versions = (await api<{ versions: { version: number; lineage: { runId: string } }[] }>('GET', '/api/v1/models/energy/versions'))
      .body.versions;
    expect(versions.filter((v) => v.lineage.runId === run).map((v) => v.version)).toEqual([3]);
    expect(versions.map((v) => v.version).sort()).toEqual([1, 2, 3]);

    // Enrolments: each one either whole (node + credential + one use of the token) or absent.
    const nodes = (await api<{ nodes: { name: string }[] }>('GET', '/api/v1/nodes')).body.nodes.filter((n) => n.name.startsWith('burst-'));
    const tokens = (await api<{ tokens: { id: string; uses: number }[] }>('GET', '/api/v1/tokens')).body.tokens;
    expect(tokens.find((t) => t.id === join.info.id)?.uses).toBe(nodes.length);
    expect(nodes.length).toBeGreaterThanOrEqual(outcomes.filter((o) => o === 'ok').length);

    // The rollout resumes from its stored state: the soak finishes and every node gets version 2.
    const done = await eventually(async () => {
      const view = (await api<DeploymentView>('GET', '/api/v1/deployments/energy')).body;
      const placed = view.nodes.filter((n) => n.assignedVersion !== null);
      return view.rollout.phase === 'stable' && placed.length === 2 && placed.every((n) => n.state === 'serving' && n.version === 2)
        ? view
        : undefined;
    }, 90_000);
    expect(done.rollout.history.map((e) => e.event)).toEqual([
      'started',
      'completed',
      'started',
      'canary-healthy',
      'promoted',
      'completed',
    ]);
  });
});
