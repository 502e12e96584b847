/**
 * `fogline up` keeps its parts running: an agent killed with SIGKILL (a crash, the OOM killer) is
 * started again after a back-off, with the same node identity, and Ctrl-C still stops everything.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  cleanFoglineEnv,
  ensureStopped,
  eventually,
  freePortRange,
  isPortFree,
  requestJson,
  signalGroup,
  startFogline,
  tempDir,
  waitForExit,
} from '../support/processes.js';

/**
 * The pids of the processes `pid` started whose command line holds `--name <name>`, or for
 * `undefined` the `server` child (Linux /proc).
 */
function childPidsNamed(pid: number, name: string | undefined): number[] {
  return fs
    .readdirSync(`/proc/${pid}/task`)
    .flatMap((tid) => fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/))
    .filter(Boolean)
    .map(Number)
    .filter((child) => {
      const args = fs.readFileSync(`/proc/${child}/cmdline`, 'utf8').split('\0');
      return name === undefined ? args.includes('server') : args[args.indexOf('--name') + 1] === name;
    });
}

interface Health {
  status: string;
  nodeId: string | null;
}

describe('fogline up restarts a crashed part', () => {
  const workDir = tempDir('up-restart');
  const dataDir = path.join(workDir, '.fogline');

  afterAll(() => {
    fs.rmSync(workDir, { recursive: true, force: true });
  });

  it(
    'brings a SIGKILLed agent (back-off 1 s, then 2 s) and control plane back, same node id; Ctrl-C still stops all',
    { timeout: 120_000 },
    async () => {
      const port = await freePortRange(3);
      const up = startFogline(['up', '--data-dir', dataDir, '--port', String(port), '--demo', 'no'], cleanFoglineEnv(), workDir, {
        detached: true,
      });
      try {
        await up.waitForOutput(/Fogline is up\./, 60_000);
        const agentUrl = `http://127.0.0.1:${port + 1}`;
        const before = await requestJson<Health>(`${agentUrl}/healthz`);
        expect(before.status).toBe(200);
        expect(before.body.nodeId).toBeTruthy();

        const [victim] = childPidsNamed(up.child.pid as number, 'edge-1');
        expect(victim, 'no edge-1 child process found').toBeDefined();
        process.kill(victim as number, 'SIGKILL');

        await up.waitForOutput(/\[up\] edge-1 exited unexpectedly \(signal SIGKILL\); restarting it in 1s/, 10_000);
        await up.waitForOutput(/\[up\] restarted edge-1 \(pid \d+\)/, 10_000);
        const after = await eventually(async () => {
          const response = await requestJson<Health>(`${agentUrl}/healthz`).catch(() => undefined);
          return response?.status === 200 ? response : undefined;
        }, 30_000);
        expect(after.body.nodeId).toBe(before.body.nodeId);
        const [revived] = childPidsNamed(up.child.pid as number, 'edge-1');
        expect(revived).toBeDefined();
        expect(revived).not.toBe(victim);
        // The other parts were left alone, and `up` did not give up.
        expect(up.output()).not.toMatch(/stopped unexpectedly|edge-2 exited|server exited/);

        // Crashing again soon after: the back-off doubles.
        process.kill(revived as number, 'SIGKILL');
        await up.waitForOutput(/\[up\] edge-1 exited unexpectedly \(signal SIGKILL\); restarting it in 2s/, 10_000);

        // The control plane too comes back, on its port and database.
        const [server] = childPidsNamed(up.child.pid as number, undefined);
        process.kill(server as number, 'SIGKILL');
        await up.waitForOutput(/\[up\] server exited unexpectedly \(signal SIGKILL\); restarting it in 1s/, 10_000);
        await eventually(
          async () => ((await requestJson(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200 ? true : undefined),
          30_000,
        );
        const healed = await eventually(async () => {
          const response = await requestJson<Health>(`${agentUrl}/healthz`).catch(() => undefined);
          return response?.status === 200 ? response : undefined;
        }, 30_000);
        expect(healed.body.nodeId).toBe(before.body.nodeId);

        signalGroup(up, 'SIGINT');
        expect(await waitForExit(up, 30_000)).toBe(0);
        await eventually(async () => {
          for (const candidate of [port, port + 1, port + 2]) if (!(await isPortFree(candidate))) return undefined;
          return true;
        }, 15_000);
        // Ctrl-C is a stop that was asked for: nothing is restarted.
        expect(up.output()).not.toMatch(/exited unexpectedly \((?!signal SIGKILL)/);
      } finally {
        await ensureStopped(up);
      }
    },
  );
});
