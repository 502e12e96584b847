/**
 * `fogline up`: the all-in-one cluster (control plane + edge-1 + edge-2) as a newcomer runs it,
 * stopped with Ctrl-C and started again on the same folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { NodeView } from '../../src/contracts/nodes.js';
import type { TokenInfo } from '../../src/contracts/tokens.js';
import {
  cleanFoglineEnv,
  ensureStopped,
  eventually,
  type FoglineProcess,
  freePortRange,
  isPortFree,
  requestJson,
  runFogline,
  signalGroup,
  startFogline,
  tempDir,
  waitForExit,
} from '../support/processes.js';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('fogline up', () => {
  const workDir = tempDir('up');
  const dataDir = path.join(workDir, '.fogline');
  let port: number;
  let up: FoglineProcess | undefined;
  let firstIds: Record<string, string> = {};

  function startUp(demo: 'yes' | 'no' = 'no'): FoglineProcess {
    // Its own process group: SIGINT to the group is what Ctrl-C in a terminal does, and cleanup
    // can SIGKILL the whole group if a test fails half-way.
    up = startFogline(['up', '--data-dir', dataDir, '--port', String(port), '--demo', demo], cleanFoglineEnv(), workDir, {
      detached: true,
    });
    return up;
  }

  async function nodesList(): Promise<NodeView[]> {
    const result = await runFogline(['nodes', 'list', '--json', '--data-dir', dataDir], cleanFoglineEnv(), workDir);
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout) as NodeView[];
  }

  async function allPortsFree(): Promise<boolean> {
    for (const candidate of [port, port + 1, port + 2]) if (!(await isPortFree(candidate))) return false;
    return true;
  }

  beforeAll(async () => {
    port = await freePortRange(3);
  });

  afterEach(async () => {
    if (up) await ensureStopped(up);
    up = undefined;
  });

  afterAll(() => {
    fs.rmSync(workDir, { recursive: true, force: true });
  });

  it('starts a control plane and two online edge agents, and stops them all on Ctrl-C', { timeout: 120_000 }, async () => {
    const proc = startUp();
    await proc.waitForOutput(/Fogline is up\./, 60_000);
    const output = proc.output();
    expect(output).toContain(`control plane  http://127.0.0.1:${port}`);
    expect(output).toMatch(new RegExp(`edge-1\\s+http://127\\.0\\.0\\.1:${port + 1}\\s+\\(site=plant-a\\)`));
    expect(output).toMatch(new RegExp(`edge-2\\s+http://127\\.0\\.0\\.1:${port + 2}\\s+\\(site=plant-b\\)`));
    expect(output).toMatch(/admin token\s+\.fogline[/\\]admin\.token/);
    expect(fs.existsSync(path.join(dataDir, 'admin.token'))).toBe(true);

    const nodes = await eventually(async () => {
      const list = await nodesList();
      return list.length === 2 && list.every((node) => node.status === 'online') ? list : undefined;
    }, 30_000);
    const byName = Object.fromEntries(nodes.map((node) => [node.name, node]));
    expect(byName['edge-1']).toMatchObject({ role: 'edge', status: 'online', labels: { site: 'plant-a' } });
    expect(byName['edge-2']).toMatchObject({ role: 'edge', status: 'online', labels: { site: 'plant-b' } });
    expect(byName['edge-1']?.agent?.inferenceUrl).toBe(`http://127.0.0.1:${port + 1}`);
    expect(byName['edge-2']?.agent?.inferenceUrl).toBe(`http://127.0.0.1:${port + 2}`);
    firstIds = Object.fromEntries(nodes.map((node) => [node.name, node.id]));

    for (const agentPort of [port + 1, port + 2]) {
      expect((await requestJson(`http://127.0.0.1:${agentPort}/healthz`)).status).toBe(200);
    }
    const serverPid = (JSON.parse(fs.readFileSync(path.join(dataDir, 'server.json'), 'utf8')) as { pid: number }).pid;
    expect(isAlive(serverPid)).toBe(true);

    // Ctrl-C: the terminal sends SIGINT to the whole foreground process group.
    signalGroup(proc, 'SIGINT');
    expect(await waitForExit(proc, 30_000)).toBe(0);
    await eventually(async () => ((await allPortsFree()) && !isAlive(serverPid) ? true : undefined), 15_000);
    // A stop that was asked for is not reported as a crash.
    expect(proc.output()).not.toMatch(/stopped unexpectedly/);
  });

  it('reuses the same cluster when run again: same node ids, no new enrolment', { timeout: 120_000 }, async () => {
    expect(Object.keys(firstIds).sort()).toEqual(['edge-1', 'edge-2']);
    const proc = startUp();
    await proc.waitForOutput(/Fogline is up\./, 60_000);
    // The admin token is shown once, on the very first start only.
    expect(proc.output()).not.toMatch(/Admin token \(shown once/);

    const nodes = await eventually(async () => {
      const list = await nodesList();
      return list.every((node) => node.status === 'online') ? list : undefined;
    }, 30_000);
    expect(nodes).toHaveLength(2);
    expect(Object.fromEntries(nodes.map((node) => [node.name, node.id]))).toEqual(firstIds);

    // No second enrolment: still one join token and one node credential per agent.
    const tokens = await runFogline(['token', 'list', '--all', '--json', '--data-dir', dataDir], cleanFoglineEnv(), workDir);
    expect(tokens.code, tokens.stderr).toBe(0);
    const list = JSON.parse(tokens.stdout) as TokenInfo[];
    expect(list.filter((token) => token.role === 'join')).toHaveLength(2);
    expect(
      list
        .filter((token) => token.role === 'node')
        .map((token) => token.nodeId)
        .sort(),
    ).toEqual(Object.values(firstIds).sort());

    // SIGTERM to `up` alone (as a service manager sends it) stops the children too.
    proc.child.kill('SIGTERM');
    expect(await waitForExit(proc, 30_000)).toBe(0);
    await eventually(async () => ((await allPortsFree()) ? true : undefined), 15_000);
    expect(proc.output()).not.toMatch(/stopped unexpectedly/);
  });

  it('runs the demo: trains on the vendored series, deploys to both agents, replays real days', { timeout: 300_000 }, async () => {
    const proc = startUp('yes');
    await proc.waitForOutput(/\[demo\] registered pjme-forecaster version 1: test MAPE [\d.]+% vs seasonal naive [\d.]+%/, 200_000);
    await proc.waitForOutput(/\[demo\] done\./, 120_000);
    // Every replayed day was forecast by both agents, from the model they serve.
    const replayed = proc.output().match(/\[demo\] \d{4}-\d{2}-\d{2} on edge-[12] \(v1\): MAPE [\d.]+%/g) ?? [];
    expect(replayed).toHaveLength(6);
    const deployment = await runFogline(['deploy', 'get', 'energy', '--json', '--data-dir', dataDir], cleanFoglineEnv(), workDir);
    expect(deployment.code, deployment.stderr).toBe(0);
    const view = JSON.parse(deployment.stdout) as { version: number; nodes: { nodeName: string; state: string; version: number }[] };
    expect(view.nodes.map((n) => [n.nodeName, n.state, n.version]).sort()).toEqual([
      ['edge-1', 'serving', 1],
      ['edge-2', 'serving', 1],
    ]);

    // fogline predict sends a V2 request to a node's agent, found through the node registry.
    const history = Array.from({ length: 168 }, (_, i) => 30_000 + 5_000 * Math.sin((i / 24) * 2 * Math.PI));
    const request = {
      inputs: [
        { name: 'history', shape: [1, 168], datatype: 'FP32', data: history },
        { name: 'start_time', shape: [1], datatype: 'INT64', data: [1533254400] },
      ],
    };
    const requestFile = path.join(workDir, 'request.json');
    fs.writeFileSync(requestFile, JSON.stringify(request));
    const predicted = await runFogline(
      ['predict', '--node', 'edge-1', '--model', 'energy', '--input', requestFile, '--data-dir', dataDir],
      cleanFoglineEnv(),
      workDir,
    );
    expect(predicted.code, predicted.stderr).toBe(0);
    expect(predicted.stdout).toMatch(/^energy version 1\nforecast FP32 \[1, 24\]: (\d+(\.\d+)? ){23}\d+(\.\d+)?\n$/);
    fs.writeFileSync(requestFile, JSON.stringify({ inputs: [{ ...request.inputs[0], shape: [1, 167] }, request.inputs[1]] }));
    const refused = await runFogline(
      ['predict', '--node', 'edge-1', '--model', 'energy', '--input', requestFile, '--data-dir', dataDir],
      cleanFoglineEnv(),
      workDir,
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/error: .*shape/);

    signalGroup(proc, 'SIGINT');
    expect(await waitForExit(proc, 30_000)).toBe(0);
  });
});
