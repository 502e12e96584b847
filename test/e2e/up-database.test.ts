/**
 * `FOGLINE_DB=postgres://… fogline up`: the database lives outside the data folder, so a missing
 * database, or a data folder that lost its admin.token, must be explained with what to do (the
 * commands it prints are run here as printed).
 */
import { execSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { NodeView } from '../../src/contracts/nodes.js';
import { databaseServers } from '../support/database-servers.js';
import {
  cleanFoglineEnv,
  ensureStopped,
  type FoglineProcess,
  freePortRange,
  runFogline,
  startFogline,
  tempDir,
  waitForExit,
} from '../support/processes.js';

const SERVER = new URL(databaseServers().postgresUrl);

describe('fogline up on PostgreSQL', () => {
  const workDir = tempDir('up-db');
  const name = `fogline_up_${randomBytes(4).toString('hex')}`;
  const url = new URL(SERVER);
  url.pathname = `/${name}`;
  const env = cleanFoglineEnv({ FOGLINE_DB: url.toString() });
  const firstDir = path.join(workDir, 'first');
  const secondDir = path.join(workDir, 'second');
  let port: number;
  let up: FoglineProcess | undefined;

  function startUp(dataDir: string, extraEnv: NodeJS.ProcessEnv = {}): FoglineProcess {
    up = startFogline(['up', '--data-dir', dataDir, '--port', String(port), '--demo', 'no'], { ...env, ...extraEnv }, workDir, {
      detached: true,
    });
    return up;
  }

  /** Runs `fogline up` to its failure and returns what it printed. */
  async function failingUp(dataDir: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<string> {
    const proc = startUp(dataDir, extraEnv);
    expect(await waitForExit(proc, 60_000)).toBe(1);
    return proc.output();
  }

  async function runningUp(dataDir: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<FoglineProcess> {
    const proc = startUp(dataDir, extraEnv);
    await proc.waitForOutput(/Fogline is up\./, 60_000);
    return proc;
  }

  async function stop(proc: FoglineProcess): Promise<void> {
    proc.child.kill('SIGTERM');
    expect(await waitForExit(proc, 30_000)).toBe(0);
  }

  /** Runs a command line that fogline printed for the user to paste. */
  function paste(command: string): void {
    execSync(command, { cwd: workDir, stdio: 'pipe', env: { ...process.env, PGPASSWORD: decodeURIComponent(SERVER.password) } });
  }

  beforeAll(async () => {
    port = await freePortRange(3);
  });

  afterEach(async () => {
    if (up) await ensureStopped(up);
    up = undefined;
  });

  afterAll(() => {
    paste(`dropdb --if-exists -h ${SERVER.hostname} -p ${SERVER.port || 5432} -U ${SERVER.username} ${name}`);
    fs.rmSync(workDir, { recursive: true, force: true });
  });

  it('names the createdb command when the database does not exist, and starts once it was run', { timeout: 120_000 }, async () => {
    const output = await failingUp(firstDir);
    expect(output).not.toMatch(/migration {2}failed/);
    const portFlag = SERVER.port && SERVER.port !== '5432' ? ` -p ${SERVER.port}` : '';
    const createdb = `createdb -h ${SERVER.hostname}${portFlag} -U ${SERVER.username} ${name}`;
    expect(output).toContain(`database "${name}" does not exist. Create it first: ${createdb}`);
    paste(createdb);
    await stop(await runningUp(firstDir));
    expect(fs.existsSync(path.join(firstDir, 'admin.token'))).toBe(true);
  });

  it('explains a data folder without admin.token on a database that has an admin, and what to do', { timeout: 180_000 }, async () => {
    const adminToken = fs.readFileSync(path.join(firstDir, 'admin.token'), 'utf8').trim();

    // A new data folder on the used database: no admin token, and no raw "admin.token is missing".
    const fresh = await failingUp(secondDir);
    expect(fresh).toContain(
      `admin.token is missing, and the database (${url.toString()}) already has an admin token from an earlier start, so this start did not make a new one.`,
    );
    expect(fresh).toContain('pass an admin token of this database with --token or FOGLINE_TOKEN');
    const scratch = fresh.match(/To start from scratch \(everything in it is lost\): (.+)$/m)?.[1];
    expect(scratch).toMatch(new RegExp(`^rm -r ${secondDir} && dropdb .* ${name} && createdb .* ${name}$`));

    // Its agents could not join with the admin token either: the database has nodes of their names.
    const taken = await failingUp(secondDir, { FOGLINE_TOKEN: adminToken });
    expect(taken).toContain('The database already has a node named edge-1, enrolled from another data folder');

    // Only the token file lost: the token passed in FOGLINE_TOKEN is used and saved again.
    fs.rmSync(path.join(firstDir, 'admin.token'));
    expect(await failingUp(firstDir)).toContain('already has an admin token from an earlier start');
    const restored = await runningUp(firstDir, { FOGLINE_TOKEN: adminToken });
    expect(restored.output()).toContain('[up] saved the admin token you passed to first/admin.token');
    expect(fs.readFileSync(path.join(firstDir, 'admin.token'), 'utf8').trim()).toBe(adminToken);
    const nodes = await runFogline(['nodes', 'list', '--json', '--data-dir', firstDir], cleanFoglineEnv(), workDir);
    expect(nodes.code, nodes.stderr).toBe(0);
    expect((JSON.parse(nodes.stdout) as NodeView[]).map((node) => node.name).sort()).toEqual(['edge-1', 'edge-2']);
    await stop(restored);

    // From scratch, as printed: a new admin token, new nodes.
    paste(scratch as string);
    await stop(await runningUp(secondDir));
    const newToken = fs.readFileSync(path.join(secondDir, 'admin.token'), 'utf8').trim();
    expect(newToken).not.toBe(adminToken);
  });

  it('explains a data folder used with another incarnation of the database, and what to do', { timeout: 120_000 }, async () => {
    // The database was recreated (and set up from the second folder): the first folder's admin token is refused.
    const refused = await failingUp(firstDir);
    expect(refused).toContain(`The database (${url.toString()}) refuses the admin token in ${path.join(firstDir, 'admin.token')}`);
    expect(refused).toMatch(/To start from scratch \(everything in it is lost\): rm -r .*first && dropdb/);

    // Recreated once more and started from the first folder: its agents' credentials are for nodes the database does not know.
    const portFlag = SERVER.port && SERVER.port !== '5432' ? ` -p ${SERVER.port}` : '';
    const flags = `-h ${SERVER.hostname}${portFlag} -U ${SERVER.username}`;
    paste(`dropdb ${flags} ${name} && createdb ${flags} ${name}`);
    const unknown = await failingUp(firstDir);
    expect(unknown).toMatch(
      /The database does not know edge-1 \(node \w+\) or edge-2 \(node \w+\), whose credentials are in this data folder/,
    );
    const enrolAgain = unknown.match(/To enrol them again: (.+)$/m)?.[1];
    expect(enrolAgain).toBe(`rm -r ${path.join(firstDir, 'agents', 'edge-1')} ${path.join(firstDir, 'agents', 'edge-2')}`);
    paste(enrolAgain as string);
    await stop(await runningUp(firstDir));
  });
});
