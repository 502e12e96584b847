import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './processes.js';

/** The Redis the tests publish on: `FOGLINE_TEST_REDIS_URL`, else the local server. Never skipped: a test fails when it is away. */
export function testRedisUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.FOGLINE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
}

/** A channel of the test's own: tests running at once on one Redis do not hear each other. */
export function testChannel(): string {
  return `fogline-test:${randomBytes(6).toString('hex')}`;
}

/** Fails with the reason when the test Redis does not answer PING. */
export async function assertRedisReachable(url = testRedisUrl()): Promise<void> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    throw new Error(`Redis at ${url} does not answer (${(error as Error).message}): start redis-server or set FOGLINE_TEST_REDIS_URL`);
  } finally {
    client.disconnect();
  }
}

/**
 * A redis-server of its own on a free port, for tests that stop and start Redis: the shared
 * server is never touched. Needs the redis-server program (Debian's redis-server package).
 */
export class PrivateRedis {
  private process: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async create(): Promise<PrivateRedis> {
    const found = spawnSync('sh', ['-c', 'PATH="$PATH:/usr/sbin:/sbin" command -v redis-server'], { encoding: 'utf8' });
    if (found.status !== 0) throw new Error("redis-server is not installed: this test needs Debian's redis-server package");
    const server = new PrivateRedis(await freePort(), fs.mkdtempSync(path.join(os.tmpdir(), 'fogline-redis-')));
    await server.start();
    return server;
  }

  /** Starts the server (again) and waits until it answers. */
  async start(): Promise<void> {
    this.process = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir],
      {
        stdio: 'ignore',
      },
    );
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await assertRedisReachable(this.url);
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  /** Stops the server and waits until it is gone. */
  async stop(): Promise<void> {
    const running = this.process;
    this.process = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  }

  async close(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
