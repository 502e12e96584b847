import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built CLI (npm test builds first), so that tests run the same processes users do. */
export const FOGLINE_BIN = fileURLToPath(new URL('../../bin/fogline.js', import.meta.url));

export interface FoglineProcess {
  child: ChildProcess;
  /** Everything the process printed so far. */
  output(): string;
  /** Resolves with the first output that matches, or rejects after the timeout. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
  /** Leads its own process group (started with `detached`). */
  detached?: boolean;
}

export interface StartOptions {
  /**
   * Starts the process as the leader of its own process group, so that `signalGroup` can reach
   * it and everything it spawned (as Ctrl-C in a terminal does) and cleanup leaves no grandchild.
   */
  detached?: boolean;
}

export function startFogline(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string, options: StartOptions = {}): FoglineProcess {
  const child = spawn(process.execPath, [FOGLINE_BIN, ...args], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  let output = '';
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    for (const waiter of waiters) waiter();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    detached: options.detached ?? false,
    output: () => output,
    exited,
    waitForOutput(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = output.match(pattern);
          if (match) {
            cleanup();
            resolve(match);
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for ${pattern}; output so far:\n${output}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
        exited.then(() => {
          if (waiters.has(check)) {
            cleanup();
            reject(new Error(`process exited before printing ${pattern}; output:\n${output}`));
          }
        });
      });
    },
  };
}

/** Runs `fogline <args>` to completion and returns its exit code and output. */
export async function runFogline(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  cwd?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [FOGLINE_BIN, ...args], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
  return { code, stdout, stderr };
}

export async function stopProcess(proc: FoglineProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill(signal);
  return proc.exited;
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `fogline-${prefix}-`));
}

/** Polls until `check` returns a value other than undefined. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 20_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`condition not met within ${timeoutMs} ms${lastError ? `: ${(lastError as Error).message}` : ''}`);
}

function isRunning(proc: FoglineProcess): boolean {
  return proc.child.exitCode === null && proc.child.signalCode === null;
}

/** Sends `signal` to the process group a `detached` process leads (the process and its children). */
export function signalGroup(proc: FoglineProcess, signal: NodeJS.Signals): void {
  if (proc.child.pid === undefined) return;
  try {
    process.kill(-proc.child.pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** Resolves with the exit code, or rejects when the process is still running after `timeoutMs`. */
export async function waitForExit(proc: FoglineProcess, timeoutMs: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still running after ${timeoutMs} ms; output:\n${proc.output()}`)), timeoutMs);
  });
  try {
    return await Promise.race([proc.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Cleanup for afterAll/afterEach: SIGTERM, then SIGKILL after `graceMs`. For a detached process
 * the whole group gets the SIGKILL, so that no child it spawned outlives a failed test.
 */
export async function ensureStopped(proc: FoglineProcess, graceMs = 10_000): Promise<void> {
  if (isRunning(proc)) {
    proc.child.kill('SIGTERM');
    await waitForExit(proc, graceMs).catch(() => proc.child.kill('SIGKILL'));
    await proc.exited;
  }
  if (proc.detached) signalGroup(proc, 'SIGKILL');
}

/** True when nothing listens on `port` at 127.0.0.1 (we can bind it ourselves). */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A port that is free right now (the kernel picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * The first of `count` consecutive free ports (`fogline up` uses P, P+1, P+2). Picked below the
 * kernel's ephemeral range, so that port-0 listeners of parallel tests do not take them meanwhile.
 */
export async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 10_000);
    let free = true;
    for (let i = 0; i < count && free; i++) free = await isPortFree(base + i);
    if (free) return base;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

export interface JsonResponse<T = unknown> {
  status: number;
  body: T;
}

/** One HTTP call with an optional bearer token; the body is parsed as JSON when there is one. */
export async function requestJson<T = unknown>(
  url: string,
  options: { method?: string; token?: string; body?: unknown; timeoutMs?: number } = {},
): Promise<JsonResponse<T>> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(url, {
    method: options.method ?? 'GET',
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
  });
  const text = await response.text();
  return { status: response.status, body: (text === '' ? undefined : JSON.parse(text)) as T };
}

/**
 * An environment for a child that blanks every FOGLINE_* variable of the machine running the
 * tests (an empty value counts as unset), then adds `extra`: only what a test passes applies.
 */
export function cleanFoglineEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const key of Object.keys(process.env)) if (key.startsWith('FOGLINE_')) env[key] = '';
  return { ...env, ...extra };
}

/** The processes a test file starts, so that afterAll stops every one of them, whatever failed. */
export class ProcessTracker {
  private readonly started = new Set<FoglineProcess>();

  /** `fogline <args>` with a clean FOGLINE_* environment. */
  start(args: string[]): FoglineProcess {
    const proc = startFogline(args, cleanFoglineEnv());
    this.started.add(proc);
    return proc;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.started].map((proc) => ensureStopped(proc)));
    this.started.clear();
  }
}

/**
 * The absolute path of `name` on PATH, or in /usr/sbin and /sbin (where Debian puts nginx, which a
 * non-root PATH lacks); throws (the test fails, never skips) when it is nowhere. The preflight reads
 * the calls of this function in each test and the support files it imports.
 */
export function requireBinary(name: string): string {
  const found = spawnSync('sh', ['-c', `PATH="$PATH:/usr/sbin:/sbin" command -v ${name}`], { encoding: 'utf8' });
  const where = found.stdout.trim();
  if (found.status !== 0 || where === '') {
    throw new Error(`${name} is not installed: this test needs it (scripts/install-test-deps.sh installs it)`);
  }
  return where;
}
