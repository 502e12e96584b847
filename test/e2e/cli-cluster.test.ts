/**
 * The `fogline` CLI against a cluster with agents (real processes, the vendored PJM series):
 * downloading a chosen model version, following a canary rollout through its soak, and drift
 * status once a node no longer serves the deployment.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeploymentView } from '../../src/contracts/deployments.js';
import type { DriftReportView } from '../../src/contracts/drift.js';
import { TestCluster } from '../support/cluster.js';
import { cleanFoglineEnv, eventually, runFogline, tempDir } from '../support/processes.js';

const SOAK_SECONDS = 10;

describe('fogline CLI with agents', { timeout: 300_000 }, () => {
  let cluster: TestCluster;
  const downloads = tempDir('cli-cluster-downloads');
  const cli = (args: string[]) =>
    runFogline(args, cleanFoglineEnv({ FOGLINE_SERVER: cluster.url, FOGLINE_TOKEN: cluster.adminToken }), downloads);
  const deployment = async () => (await cluster.api<DeploymentView>('GET', '/api/v1/deployments/energy')).body;

  beforeAll(async () => {
    cluster = await TestCluster.start('cli-cluster');
    await cluster.uploadPjme();
    expect(await cluster.trainForecaster({ seed: 1 })).toBe(1);
    expect(await cluster.trainForecaster({ seed: 2 })).toBe(2);
    await cluster.setAlias('energy', 'champion', 1);
    const joinToken = await cluster.joinToken(2);
    await cluster.startAgent('edge-1', { labels: 'site=plant-a', joinToken });
    await cluster.startAgent('edge-2', { labels: 'site=plant-a', joinToken });
    await cluster.nodesOnline(2);
  }, 240_000);

  afterAll(async () => {
    await cluster?.stop();
    fs.rmSync(downloads, { recursive: true, force: true });
  });

  it('models download --version downloads that version', async () => {
    for (const version of [1, 2]) {
      const result = await cli(['models', 'download', 'energy', '--version', String(version)]);
      expect(result.code, result.stderr).toBe(0);
      const file = path.join(downloads, `energy-v${version}.fogline`);
      expect(result.stdout).toContain(`Wrote ${file}`);
      expect(fs.existsSync(file)).toBe(true);
    }
    const json = await cli(['models', 'download', 'energy', '--version', 'champion', '--output', 'champion.fogline', '--json']);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ model: 'energy', version: 1, signature: 'verified' });
  });

  it("deploy get --wait follows a canary's soak: its time, requests and failure rate, at 100% only when done", async () => {
    const created = await cli([
      ...['deploy', 'create', '--name', 'energy', '--model', 'energy@champion', '--to', 'site=plant-a'],
      ...['--strategy', 'canary', '--canary-percent', '50', '--soak', `${SOAK_SECONDS}s`, '--wait'],
    ]);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/Rollout:\s+stable v1/);

    const moved = await cli(['models', 'alias', 'set', 'energy', 'champion', '2']);
    expect(moved.code, moved.stderr).toBe(0);
    // Follow from the moment the rollout has begun (a --wait before it would find v1 stable and return).
    await eventually(async () => ((await deployment()).rollout.phase === 'stable' ? undefined : true), 30_000);
    const followed = await cli(['deploy', 'get', 'energy', '--wait', '--timeout', '3m']);
    expect(followed.code, followed.stderr).toBe(0);
    expect(followed.stdout).toMatch(/Rollout:\s+stable v2/);

    // Not a terminal: the bar prints a line at most every 3 s, so a 10 s soak shows at least twice.
    const lines = followed.stderr.split('\n').filter((line) => line.trim() !== '');
    const soak = lines.filter((line) => line.includes('soak v2:'));
    expect(soak.length, followed.stderr).toBeGreaterThanOrEqual(2);
    for (const line of soak) {
      expect(line).toMatch(
        new RegExp(
          `\\] +\\d+%  soak v2: \\d+s of ${SOAK_SECONDS}s on 1 canary node\\(s\\), \\d+ request\\(s\\), \\d+\\.\\d% failed \\(max 1\\.0%`,
        ),
      );
    }
    // Only a finished rollout reaches 100%.
    for (const line of lines.filter((l) => / 100% /.test(l))) expect(line).toMatch(/ 100% {2}stable v2/);
  });

  it('drift status lists only the nodes the deployment is placed on now', async () => {
    const policy = await cli(['drift', 'policy', 'set', 'energy', '--report-interval', '1s']);
    expect(policy.code, policy.stderr).toBe(0);
    const reportsFrom = async () => {
      const status = await cli(['drift', 'status', '--deployment', 'energy', '--json']);
      expect(status.code, status.stderr).toBe(0);
      return (JSON.parse(status.stdout) as DriftReportView[]).map((report) => report.nodeName).sort();
    };
    // Both agents answer requests, so both report.
    await eventually(async () => {
      await cluster.infer('edge-1', 'energy');
      await cluster.infer('edge-2', 'energy');
      return (await reportsFrom()).length === 2 ? true : undefined;
    }, 60_000);

    // edge-2 leaves the deployment's selector: its last report is no longer status.
    const relabelled = await cli(['nodes', 'label', 'edge-2', 'site=plant-b']);
    expect(relabelled.code, relabelled.stderr).toBe(0);
    await eventually(async () =>
      (await deployment()).nodes.some((n) => n.nodeName === 'edge-2' && n.assignedVersion !== null) ? undefined : true,
    );
    expect(await reportsFrom()).toEqual(['edge-1']);
    const table = await cli(['drift', 'status']);
    expect(table.stdout).toMatch(/^energy\s+edge-1\s+v2/m);
    expect(table.stdout).not.toContain('edge-2');
  });
});
