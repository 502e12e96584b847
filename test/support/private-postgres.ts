import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './processes.js';

/**
 * A PostgreSQL server of its own (initdb in a temp folder, its own port), for tests that stop
 * and start the database: the shared server the other suites use is never touched. Runs as the
 * `postgres` user when the tests run as root (PostgreSQL refuses to run as root).
 */
export class PrivatePostgres {
  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly bin: string,
  ) {}

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  static async create(): Promise<PrivatePostgres> {
    const versions = fs.existsSync('/usr/lib/postgresql') ? fs.readdirSync('/usr/lib/postgresql').sort() : [];
    const bin = versions.length > 0 ? path.join('/usr/lib/postgresql', versions.at(-1)!, 'bin') : '';
    if (!bin || !fs.existsSync(path.join(bin, 'initdb'))) {
      throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql: install the postgresql package (.ci/run does)');
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fogline-pg-'));
    fs.chmodSync(dir, 0o777);
    const server = new PrivatePostgres(dir, await freePort(), bin);
    if (process.getuid?.() === 0) execFileSync('chown', ['-R', 'postgres:postgres', dir]);
    server.run('initdb', ['-D', server.dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync']);
    return server;
  }

  private get dataDir(): string {
    return path.join(this.dir, 'data');
  }

  start(): void {
    this.run('pg_ctl', [
      ...['-D', this.dataDir, '-l', path.join(this.dir, 'server.log'), '-w', '-t', '60'],
      ...['-o', `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off`],
      'start',
    ]);
  }

  /** `fast`: like a restart or failover, sessions are cut off mid-flight. */
  stop(): void {
    this.run('pg_ctl', ['-D', this.dataDir, '-m', 'fast', '-w', 'stop']);
  }

  destroy(): void {
    try {
      this.stop();
    } catch {
      // already stopped
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private run(tool: string, args: string[]): void {
    const command = path.join(this.bin, tool);
    if (process.getuid?.() === 0) execFileSync('runuser', ['-u', 'postgres', '--', command, ...args], { stdio: 'pipe' });
    else execFileSync(command, args, { stdio: 'pipe' });
  }
}
