/**
 * deploy/ansible and deploy/systemd as CI can check them without a fleet: the playbook passes
 * `ansible-playbook --syntax-check` and `ansible-lint`; a real `ansible-playbook -c local` run
 * installs the release tarball (npm pack) into a temporary root with systemd switched off (no
 * systemd PID 1 here), and the agent started as the unit's ExecStart would, with the
 * EnvironmentFile the role wrote, enrols with a test control plane and shows up online;
 * `systemd-analyze verify` accepts the unit the role wrote and the server and worker units.
 * What this cannot check here: the NodeSource install (the run uses this machine's node) and the
 * unit under a real systemd (user, StateDirectory, sandboxing).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { beforeAllOrFail } from '../support/before-all-or-fail.js';
import { startTestControlPlane, type TestControlPlane } from '../support/control-plane.js';
import { requireBinary } from '../support/processes.js';
import { eventually, freePort, tempDir } from '../support/processes.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const ANSIBLE_DIR = path.join(REPO, 'deploy/ansible');
const SYSTEMD_DIR = path.join(REPO, 'deploy/systemd');
const PLAYBOOK = path.join(ANSIBLE_DIR, 'agents.yml');
const NODE_NAME = 'ansible-edge';

const ANSIBLE_ENV = { ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_FORCE_COLOR: '0', NO_COLOR: '1', PY_COLORS: '0' };

function run(command: string, args: string[], options: { cwd?: string; timeoutMs?: number } = {}) {
  const started = Date.now();
  const result = spawnSync(command, args, {
    cwd: options.cwd ?? REPO,
    env: ANSIBLE_ENV,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 600_000,
    maxBuffer: 32 * 1024 * 1024,
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}`, seconds: (Date.now() - started) / 1000 };
}

/** KEY="value" lines of a systemd EnvironmentFile (as the role writes them), comments skipped. */
function readEnvironmentFile(file: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!match) continue;
    const raw = match[2]!;
    env[match[1]!] = raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1).replace(/\\(["\\])/g, '$1') : raw;
  }
  return env;
}

/** The release tarball: FOGLINE_RELEASE_TARBALL when CI already made one, else `npm pack` of this checkout (dist/ built). */
function releaseTarball(into: string): string {
  if (process.env.FOGLINE_RELEASE_TARBALL) return path.resolve(process.env.FOGLINE_RELEASE_TARBALL);
  const packed = run('npm', ['pack', '--ignore-scripts', '--pack-destination', into]);
  if (packed.status !== 0) throw new Error(`npm pack failed:\n${packed.output}`);
  const tarball = fs.readdirSync(into).find((name) => /^fogline-.+\.tgz$/.test(name));
  if (!tarball) throw new Error(`npm pack wrote no fogline-<version>.tgz in ${into}:\n${packed.output}`);
  const listing = spawnSync('tar', ['-tzf', path.join(into, tarball)], { encoding: 'utf8', maxBuffer: 32 * 1024 * 1024 });
  if (!listing.stdout.split('\n').includes('package/dist/cli/main.js')) {
    throw new Error(`${tarball} has no dist/cli/main.js: build first (npx tsc -p tsconfig.build.json) and check package.json's "files"`);
  }
  return path.join(into, tarball);
}

/**
 * A folder for npm_config_better_sqlite3_local_prebuilds holding this checkout's better-sqlite3
 * binary under the name prebuild-install looks for, as a site without GitHub access would mirror
 * it: the install then skips the minutes-long compile. When npm resolves another version, the
 * name does not match and better-sqlite3 builds from source (slower, same result).
 */
function localPrebuilds(into: string): string {
  const packageDir = path.join(REPO, 'node_modules/better-sqlite3');
  const { version } = JSON.parse(fs.readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as { version: string };
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  fs.mkdirSync(into, { recursive: true });
  const packed = spawnSync('tar', ['-czf', path.join(into, name), '-C', packageDir, 'build/Release/better_sqlite3.node'], {
    encoding: 'utf8',
  });
  if (packed.status !== 0) throw new Error(`could not pack better-sqlite3's binary: ${packed.stderr}`);
  return into;
}

describe('deploy/ansible: a bare device installed by the playbook', () => {
  const ansiblePlaybook = requireBinary('ansible-playbook');
  const ansibleLint = requireBinary('ansible-lint');
  const systemdAnalyze = requireBinary('systemd-analyze');

  let work: string;
  let root: string;
  let tarball: string;
  let inventory: string;
  let varsFile: string;
  let agentPort: number;
  let cp: TestControlPlane | undefined;
  let agent: ChildProcess | undefined;
  let agentOutput = '';
  const paths = () => ({
    prefix: path.join(root, 'usr/local'),
    config: path.join(root, 'etc/fogline'),
    state: path.join(root, 'var/lib/fogline-agent'),
    units: path.join(root, 'etc/systemd/system'),
  });
  const playbook = () => run(ansiblePlaybook, ['-i', inventory, '-e', `@${varsFile}`, PLAYBOOK]);

  beforeAllOrFail(async () => {
    work = tempDir('ansible');
    root = path.join(work, 'root');
    fs.mkdirSync(path.join(root, 'etc/systemd/system'), { recursive: true });
    tarball = releaseTarball(work);
    cp = await startTestControlPlane();
    const join = await cp.admin.createToken({ name: 'ansible join', role: 'join', maxUses: 1 });
    agentPort = await freePort();
    inventory = path.join(work, 'inventory.ini');
    fs.writeFileSync(
      inventory,
      `[fogline_agents]\nlocalhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3 ansible_become=false\n`,
    );
    varsFile = path.join(work, 'vars.json');
    const { prefix, config, state, units } = paths();
    fs.writeFileSync(
      varsFile,
      JSON.stringify({
        fogline_tarball: tarball,
        fogline_server_url: cp.url,
        fogline_join_token: join.token,
        fogline_node_name: NODE_NAME,
        fogline_node_labels: 'site=ci,installer=ansible',
        fogline_agent_host: '127.0.0.1',
        fogline_agent_port: agentPort,
        fogline_install_prefix: prefix,
        fogline_config_dir: config,
        fogline_state_dir: state,
        fogline_systemd_unit_dir: units,
        fogline_cache_dir: path.join(root, 'var/cache/fogline'),
        fogline_nodejs_source: 'existing',
        fogline_create_user: false,
        fogline_systemd: false,
        fogline_npm_env: { npm_config_better_sqlite3_local_prebuilds: localPrebuilds(path.join(work, 'prebuilds')) },
      }),
    );
  }, 120_000);

  afterAll(async () => {
    if (agent && agent.exitCode === null && agent.signalCode === null) {
      const exited = new Promise((resolve) => agent!.once('exit', resolve));
      agent.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      agent.kill('SIGKILL');
    }
    await cp?.close();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('passes ansible-playbook --syntax-check and ansible-lint (production profile)', () => {
    const syntax = run(ansiblePlaybook, ['-i', 'localhost,', '--syntax-check', PLAYBOOK]);
    expect(syntax.status, syntax.output).toBe(0);
    const lint = run(ansibleLint, ['--offline', '--nocolor', '--profile', 'production'], { cwd: ANSIBLE_DIR });
    expect(lint.status, lint.output).toBe(0);
  }, 120_000);

  it('installs the release tarball with ansible-playbook -c local and writes a root-only EnvironmentFile with the join token', () => {
    const first = playbook();
    console.log(`ansible-playbook (first run, npm install -g of the tarball included): ${first.seconds.toFixed(1)} s`);
    expect(first.status, first.output).toBe(0);
    const { prefix, config } = paths();
    const version = run(path.join(prefix, 'bin/fogline'), ['--version']);
    expect(version.status, version.output).toBe(0);
    expect(version.output).toContain(JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).version);

    const envFile = path.join(config, 'agent.env');
    expect(fs.statSync(envFile).mode & 0o777).toBe(0o600);
    expect(readEnvironmentFile(envFile)).toMatchObject({
      FOGLINE_SERVER: cp!.url,
      FOGLINE_NODE_NAME: NODE_NAME,
      FOGLINE_AGENT_DATA_DIR: paths().state,
      FOGLINE_AGENT_PORT: String(agentPort),
    });
    expect(readEnvironmentFile(envFile).FOGLINE_JOIN_TOKEN).toMatch(/\S/);
    // Without a matching local prebuild, better-sqlite3 compiles from source: minutes on this machine.
  }, 600_000);

  it('systemd-analyze verify accepts the agent unit the role wrote and the server and worker units', () => {
    const { prefix, units } = paths();
    const agentUnit = path.join(units, 'fogline-agent.service');
    const unit = fs.readFileSync(agentUnit, 'utf8');
    for (const line of [
      'Restart=on-failure',
      'User=fogline',
      'StateDirectory=fogline-agent',
      'ProtectSystem=strict',
      'NoNewPrivileges=yes',
    ]) {
      expect(unit.split('\n')).toContain(line);
    }
    // The shipped server and worker units name /usr/local/bin/fogline; verify checks that ExecStart exists.
    const checked = [agentUnit];
    for (const name of ['fogline-server.service', 'fogline-worker.service']) {
      const copy = path.join(units, name);
      const text = fs.readFileSync(path.join(SYSTEMD_DIR, name), 'utf8');
      expect(text).toMatch(/^ExecStart=\/usr\/local\/bin\/fogline /m);
      fs.writeFileSync(copy, text.replaceAll('/usr/local/bin/fogline', path.join(prefix, 'bin/fogline')));
      checked.push(copy);
    }
    const verified = run(systemdAnalyze, ['verify', '--man=no', ...checked]);
    expect(verified.status, verified.output).toBe(0);
    expect(verified.output).not.toMatch(/fogline-(agent|server|worker)\.service:\d+:/);
  }, 60_000);

  it('the agent started as the unit starts it enrols with the join token and shows up online', async () => {
    const { units, config, state } = paths();
    const unit = fs.readFileSync(path.join(units, 'fogline-agent.service'), 'utf8');
    const execStart = /^ExecStart=(.+)$/m.exec(unit)![1]!.split(/\s+/);
    const envFile = /^EnvironmentFile=(.+)$/m.exec(unit)![1]!;
    expect(envFile).toBe(path.join(config, 'agent.env'));
    agent = spawn(execStart[0]!, execStart.slice(1), {
      env: { PATH: process.env.PATH, HOME: state, ...readEnvironmentFile(envFile) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    agent.stdout!.on('data', (chunk: Buffer) => (agentOutput += chunk.toString()));
    agent.stderr!.on('data', (chunk: Buffer) => (agentOutput += chunk.toString()));
    const node = await eventually(async () => {
      if (agent!.exitCode !== null) throw new Error(`the agent exited with ${agent!.exitCode}:\n${agentOutput}`);
      const { nodes } = await cp!.admin.listNodes();
      return nodes.find((candidate) => candidate.name === NODE_NAME && candidate.status === 'online');
    }, 60_000).catch((error: Error) => {
      throw new Error(`${error.message}\nagent output:\n${agentOutput}`);
    });
    expect(node.labels).toMatchObject({ site: 'ci', installer: 'ansible' });
    expect(fs.existsSync(path.join(state, 'node.json'))).toBe(true);
  }, 90_000);

  it('a second run keeps the installed tarball and drops the join token from the EnvironmentFile once enrolled', () => {
    const second = playbook();
    console.log(`ansible-playbook (second run): ${second.seconds.toFixed(1)} s`);
    expect(second.status, second.output).toBe(0);
    expect(second.output).toMatch(/TASK \[fogline_agent : Install the release tarball with npm\] \*+\nskipping: \[localhost\]/);
    const env = readEnvironmentFile(path.join(paths().config, 'agent.env'));
    expect(env.FOGLINE_JOIN_TOKEN).toBeUndefined();
    expect(env.FOGLINE_SERVER).toBe(cp!.url);
  }, 120_000);
});
