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

/** The command lines of the processes `pid` started (Linux: /proc/<pid>/task/<tid>/children). */
function childCommandLines(pid: number): { pid: number; args: string[]; env: string[] }[] {
  const children = fs
    .readdirSync(`/proc/${pid}/task`)
    .flatMap((tid) => fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/))
    .filter(Boolean)
    .map(Number);
  return children.map((child) => ({
    pid: child,
    args: fs.readFileSync(`/proc/${child}/cmdline`, 'utf8').split('\0'),
    env: fs.readFileSync(`/proc/${child}/environ`, 'utf8').split('\0'),
  }));
}

/** The arguments of the `npx fogline …` command that an output line tells the user to paste. */
function pastedCommand(output: string, pattern: RegExp): string[] {
  const match = output.match(pattern);
  expect(match, `no ${pattern} in:\n${output}`).not.toBeNull();
  return (match?.[1] ?? '').trim().split(/\s+/);
}

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
  // A terminal in another folder: there the data folder is not ./.fogline, so hints must name it.
  const otherDir = path.join(workDir, 'elsewhere');
  fs.mkdirSync(otherDir);
  let port: number;
  let up: FoglineProcess | undefined;
  let firstIds: Record<string, string> = {};

  function startUp(demo: 'yes' | 'no' = 'no', cwd = workDir): FoglineProcess {
    // Its own process group: SIGINT to the group is what Ctrl-C in a terminal does, and cleanup
    // can SIGKILL the whole group if a test fails half-way.
    up = startFogline(['up', '--data-dir', dataDir, '--port', String(port), '--demo', demo], cleanFoglineEnv(), cwd, {
      detached: true,
    });
    return up;
  }

  async function fogline(args: string[], cwd = workDir): Promise<string> {
    const result = await runFogline(args, cleanFoglineEnv(), cwd);
    expect(result.code, `fogline ${args.join(' ')}: ${result.stderr}`).toBe(0);
    return result.stdout;
  }

  /** What a user who changes the demo does: delete `energy` and create it again on other nodes. */
  async function recreateEnergy(selector: string): Promise<void> {
    await fogline(['deploy', 'delete', 'energy', '--data-dir', dataDir]);
    await fogline(['deploy', 'create', '--name', 'energy', '--model', 'pjme-forecaster@champion', '--to', selector, '--data-dir', dataDir]);
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

    // The agents enrolled with join tokens that any user could have read with `ps` when they were
    // arguments; they travel in the environment (readable by the owner only) instead.
    const agents = childCommandLines(proc.child.pid as number).filter((child) => child.args.includes('agent'));
    expect(agents.map((agent) => agent.args[agent.args.indexOf('--name') + 1]).sort()).toEqual(['edge-1', 'edge-2']);
    for (const agent of agents) {
      expect(agent.args.join(' ')).not.toMatch(/--join-token|fgl\./);
      expect(agent.env.some((entry) => /^FOGLINE_JOIN_TOKEN=fgl\./.test(entry))).toBe(true);
    }

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
    // Started from another folder with --data-dir: what it tells the user to paste shows this cluster.
    const proc = startUp('no', otherDir);
    await proc.waitForOutput(/Fogline is up\./, 60_000);
    // The admin token is shown once, on the very first start only.
    expect(proc.output()).not.toMatch(/Admin token \(shown once/);
    const nodesCommand = pastedCommand(proc.output(), /^ {2}npx fogline (nodes list.*)$/m);
    expect(nodesCommand).toEqual(['nodes', 'list', '--data-dir', dataDir]);
    // Without it, this folder has no cluster, and the CLI says where to point it.
    const lost = await runFogline(['nodes', 'list'], cleanFoglineEnv(), otherDir);
    expect(lost.code).toBe(1);
    expect(lost.stderr).toContain(
      `No API token: ${path.join(otherDir, '.fogline', 'admin.token')} does not exist. Pass --data-dir (or set FOGLINE_DATA_DIR) to the data folder`,
    );

    const nodes = await eventually(async () => {
      const list = JSON.parse(await fogline([...nodesCommand, '--json'], otherDir)) as NodeView[];
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
    // It says 6 epochs and shows all six.
    expect(proc.output()).toMatch(/training a day-ahead forecaster on pjme \(6 epochs/);
    expect(proc.output().match(/\[demo\] {3}epoch \d+\/6 /g)).toEqual([1, 2, 3, 4, 5, 6].map((epoch) => `[demo]   epoch ${epoch}/6 `));
    // Started in the data folder's parent, it needs no --data-dir.
    expect(proc.output()).toContain('[demo] done. Try: npx fogline deploy get energy;');
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

    // What the README's Deploy section has a user do: energy again, on plant-a's node only.
    await recreateEnergy('site=plant-a');
    signalGroup(proc, 'SIGINT');
    expect(await waitForExit(proc, 30_000)).toBe(0);
  });

  it('runs the demo again after the user moved its deployment: it replays where energy is placed now', { timeout: 120_000 }, async () => {
    const proc = startUp('yes', otherDir);
    await proc.waitForOutput(/\[demo\] (done|stopped)/, 60_000);
    const output = proc.output();
    expect(output).not.toMatch(/\[demo\] stopped/);
    expect(output).not.toMatch(/\[demo\] training/);
    expect(output).toContain('[demo] energy is not placed on edge-2 (site=plant-b): its node selector is site=plant-a.');
    const replayed = output.match(/\[demo\] \d{4}-\d{2}-\d{2} on edge-[12] \(v1\)/g) ?? [];
    expect(replayed).toHaveLength(3);
    expect(replayed.every((line) => line.includes('on edge-1'))).toBe(true);

    // The hint it ends with works from this folder as printed.
    const tryCommand = pastedCommand(output, /\[demo\] done\. Try: npx fogline ([^;]+);/);
    expect(tryCommand).toEqual(['deploy', 'get', 'energy', '--data-dir', dataDir]);
    expect(await fogline(tryCommand, otherDir)).toMatch(/edge-1\s+serving/);

    // Next, the user gives energy a selector no node matches.
    await recreateEnergy('site=nowhere');
    signalGroup(proc, 'SIGINT');
    expect(await waitForExit(proc, 30_000)).toBe(0);
  });

  it('says in words why the demo cannot replay when no agent was given its deployment', { timeout: 120_000 }, async () => {
    const proc = startUp('yes');
    await proc.waitForOutput(/\[demo\] (done|stopped)/, 60_000);
    const output = proc.output();
    expect(output).toContain(
      '[demo] stopped: energy is placed on no node: its node selector is site=nowhere (edge-1 has site=plant-a, edge-2 has site=plant-b)',
    );
    expect(output).toContain(
      "[demo]   Nothing to replay. To set the demo's deployment up again: npx fogline deploy delete energy, then start again.",
    );
    expect(output).not.toContain('{"nodeId"');
    // The cluster runs on: the demo is a show, not a duty.
    expect((await requestJson(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    signalGroup(proc, 'SIGINT');
    expect(await waitForExit(proc, 30_000)).toBe(0);
  });
});
