import { type ChildProcess, spawn } from 'node:child_process';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The `fogline` entry script, so that `up` can start its parts as real processes. */
export const FOGLINE_BIN = fileURLToPath(new URL('../../bin/fogline.js', import.meta.url));

/**
 * Starts `fogline <args>` with each output line prefixed by `[label]`. `env` is added to this
 * process's environment: secrets go there, not in `args`, which any user can read with `ps`.
 */
export function spawnFogline(label: string, args: string[], write: (line: string) => void, env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn(process.execPath, [FOGLINE_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) readline.createInterface({ input: stream }).on('line', (line) => write(`[${label}] ${line}`));
  }
  return child;
}

/** Sends SIGTERM and waits for the exit; SIGKILL after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Polls `url` until it answers 200, the child exits, or the time runs out. */
export async function waitUntilReady(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`it exited with code ${child.exitCode} before it was ready`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${url} was not ready after ${timeoutMs / 1000}s`);
}
