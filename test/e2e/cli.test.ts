/**
 * The `fogline` CLI as a user runs it: the built binary against a real control plane, finding
 * the server and token by flags, by FOGLINE_SERVER / FOGLINE_TOKEN, or from the data folder.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditList } from '../../src/contracts/audit.js';
import type { EnrollResponse, NodeView } from '../../src/contracts/nodes.js';
import type { TokenInfo } from '../../src/contracts/tokens.js';
import { VERSION } from '../../src/version.js';
import {
  cleanFoglineEnv,
  ensureStopped,
  type FoglineProcess,
  freePort,
  requestJson,
  runFogline,
  startFogline,
  tempDir,
} from '../support/processes.js';

const NO_STACK_TRACE = /\n\s+at .+:\d+/;

describe('fogline --help', { timeout: 60_000 }, () => {
  const cases: [string[], string[]][] = [
    [[], ['up', 'server', 'agent', 'token', 'nodes', 'audit']],
    [['up'], ['--data-dir', '--port', '--log-level', 'FOGLINE_DATA_DIR']],
    [['server'], ['--data-dir', '--db', '--port', '--host', '--heartbeat-interval', '--node-timeout', '--body-limit', 'FOGLINE_DB']],
    [['agent'], ['--server', '--join-token', '--name', '--labels', '--role', '--data-dir', '--port', 'FOGLINE_JOIN_TOKEN']],
    [['token'], ['create', 'list', 'revoke']],
    [
      ['token', 'create'],
      ['--role', '--name', '--expires-in', '--max-uses', '--server', '--token', '--data-dir', '--json'],
    ],
    [
      ['token', 'list'],
      ['--all', '--server', '--token', '--data-dir', '--json'],
    ],
    [
      ['token', 'revoke'],
      ['<id>', '--server', '--token', '--data-dir', '--json'],
    ],
    [['nodes'], ['list', 'get', 'label', 'cordon', 'uncordon', 'delete']],
    [
      ['nodes', 'list'],
      ['--selector', '--status', '--role', '--server', '--token', '--data-dir', '--json', 'FOGLINE_SERVER', 'FOGLINE_TOKEN'],
    ],
    [
      ['nodes', 'get'],
      ['<node>', '--json'],
    ],
    [
      ['nodes', 'label'],
      ['<node>', 'k=v', 'k-', '--json'],
    ],
    [
      ['nodes', 'cordon'],
      ['<node>', '--json'],
    ],
    [
      ['nodes', 'uncordon'],
      ['<node>', '--json'],
    ],
    [
      ['nodes', 'delete'],
      ['<node>', '--json'],
    ],
    [['audit'], ['--limit', '(default: 50)', '--before', '--server', '--token', '--data-dir', '--json']],
    [
      ['drift', 'events'],
      ['--deployment', '--limit <n>', '(default: 50)', '--timeline'],
    ],
    [
      ['deploy', 'create'],
      ['--to', '(default: every node)', '--soak', '(default: 60s)', '--timeout', '(default: 5m)'],
    ],
    [
      ['deploy', 'get'],
      ['<name>', '--wait', '(default: 5m)'],
    ],
    [
      ['datasets', 'get'],
      ['<name>', '--version <n>', '(default: the latest)'],
    ],
    [
      ['models', 'download'],
      ['<model>', '--version <ref>', '--output'],
    ],
  ];

  it.each(cases)('fogline %j --help exits 0 and lists what it takes', async (command, expected) => {
    const { code, stdout, stderr } = await runFogline([...command, '--help'], cleanFoglineEnv());
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/^Usage: fogline/);
    for (const word of expected) expect(stdout).toContain(word);
    // An empty default is no information (and --to's said "(default: every node) (default: \"\")").
    expect(stdout.replace(/\s+/g, ' ')).not.toContain('(default: "")');
  });

  it('fogline --version and -V print the version and the build', async () => {
    for (const flag of ['--version', '-V']) {
      const { code, stdout } = await runFogline([flag], cleanFoglineEnv());
      expect(code).toBe(0);
      expect(stdout).toMatch(new RegExp(`^${VERSION.replaceAll('.', '\\.')} \\(build [0-9a-z-]+, [0-9T:.Z-]+\\)\n$`));
    }
  });

  it("a --version after a subcommand is that subcommand's, not the program's", async () => {
    // nodes list has no --version: refused as unknown instead of printing the program's version.
    const { code, stdout, stderr } = await runFogline(['nodes', 'list', '--version'], cleanFoglineEnv());
    expect(code).not.toBe(0);
    expect(stdout).not.toContain(VERSION);
    expect(stderr).toContain("unknown option '--version'");
  });

  it('an unknown command exits non-zero and points at --help', async () => {
    const { code, stderr } = await runFogline(['bogus'], cleanFoglineEnv());
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/unknown command 'bogus'/);
    expect(stderr).toContain('--help');
  });
});

describe('fogline CLI against a running control plane', { timeout: 120_000 }, () => {
  const dataDir = tempDir('cli-server');
  /** A folder with no .fogline in it, so that only flags and env can name the server. */
  const elsewhere = tempDir('cli-cwd');
  let server: FoglineProcess;
  let serverUrl: string;
  let adminToken: string;
  let nodeId: string;

  /** Runs the CLI from an empty folder with a clean environment plus `env`. */
  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runFogline(args, cleanFoglineEnv(env), elsewhere);
  const viaDataDir = (args: string[]) => cli([...args, '--data-dir', dataDir]);

  async function labelsOf(node: string): Promise<Record<string, string>> {
    const { status, body } = await requestJson<NodeView>(`${serverUrl}/api/v1/nodes/${node}`, { token: adminToken });
    expect(status).toBe(200);
    return body.labels;
  }

  beforeAll(async () => {
    server = startFogline(['server', '--data-dir', dataDir, '--port', '0', '--log-level', 'warn'], cleanFoglineEnv());
    const [, url] = await server.waitForOutput(/listening on (http:\/\/\S+)/, 30_000);
    serverUrl = url as string;
    adminToken = fs.readFileSync(path.join(dataDir, 'admin.token'), 'utf8').trim();

    // A node to label: enrolled over the REST API, as an agent would (no heartbeats needed here).
    const join = await requestJson<{ token: string }>(`${serverUrl}/api/v1/tokens`, {
      method: 'POST',
      token: adminToken,
      body: { name: 'cli join', role: 'join', maxUses: 1 },
    });
    expect(join.status).toBe(201);
    const enrolled = await requestJson<EnrollResponse>(`${serverUrl}/api/v1/nodes/enroll`, {
      method: 'POST',
      token: join.body.token,
      body: { name: 'cli-node', role: 'edge', labels: { site: 'plant-a' } },
    });
    expect(enrolled.status).toBe(201);
    nodeId = enrolled.body.nodeId;
  });

  afterAll(async () => {
    if (server) await ensureStopped(server);
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(elsewhere, { recursive: true, force: true });
  });

  it('creates, lists and revokes a token, finding the server and admin token in --data-dir', async () => {
    const created = await viaDataDir(['token', 'create', '--role', 'viewer', '--name', 'dashboard', '--expires-in', '1h']);
    expect(created.code, created.stderr).toBe(0);
    // stdout is the secret alone, so that `TOKEN=$(fogline token create …)` works.
    const token = created.stdout.trim();
    expect(token).toMatch(/^fgl\.[0-9a-f]{16}\.\S+$/);
    const id = token.split('.')[1] as string;
    expect(created.stderr).toContain(`Created viewer token ${id} ("dashboard")`);

    const table = await viaDataDir(['token', 'list']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^ID\s+NAME\s+ROLE/);
    expect(table.stdout).toMatch(new RegExp(`${id}\\s+dashboard\\s+viewer`));
    expect(table.stdout).not.toContain(token); // never the secret

    const listed = await viaDataDir(['token', 'list', '--json']);
    const info = (JSON.parse(listed.stdout) as TokenInfo[]).find((entry) => entry.id === id);
    expect(info).toMatchObject({ name: 'dashboard', role: 'viewer', revokedAt: null });
    expect(info?.expiresAt).not.toBeNull();

    // The new token works for what a viewer may do, and not for more.
    const asViewer = await cli(['nodes', 'list', '--json', '--server', serverUrl, '--token', token]);
    expect(asViewer.code, asViewer.stderr).toBe(0);
    const forbidden = await cli(['token', 'create', '--role', 'admin', '--server', serverUrl, '--token', token]);
    expect(forbidden.code).toBe(1);
    expect(forbidden.stderr).toMatch(/^error: This call needs an admin token or stronger; this token's role is viewer/m);
    const notOperator = await cli(['drift', 'policy', 'set', 'energy', '--server', serverUrl, '--token', token]);
    expect(notOperator.code).toBe(1);
    expect(notOperator.stderr).toMatch(/^error: This call needs an operator token or stronger; this token's role is viewer/m);

    const revoked = await viaDataDir(['token', 'revoke', id]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toContain(`Revoked token ${id}.`);

    const refused = await cli(['nodes', 'list', '--server', serverUrl, '--token', token]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: .*revoked/im);

    const active = JSON.parse((await viaDataDir(['token', 'list', '--json'])).stdout) as TokenInfo[];
    expect(active.map((entry) => entry.id)).not.toContain(id);
    const all = JSON.parse((await viaDataDir(['token', 'list', '--all', '--json'])).stdout) as TokenInfo[];
    expect(all.find((entry) => entry.id === id)?.revokedAt).not.toBeNull();
    // The node credential shows up with --all only.
    expect(all.some((entry) => entry.role === 'node' && entry.nodeId === nodeId)).toBe(true);
    expect(active.some((entry) => entry.role === 'node')).toBe(false);

    const again = await viaDataDir(['token', 'revoke', id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/No active token has the id/);
  });

  it('does the same round trip with FOGLINE_SERVER and FOGLINE_TOKEN', async () => {
    const env = { FOGLINE_SERVER: serverUrl, FOGLINE_TOKEN: adminToken };
    const created = await cli(['token', 'create', '--role', 'join', '--max-uses', '3', '--json'], env);
    expect(created.code, created.stderr).toBe(0);
    const { token, info } = JSON.parse(created.stdout) as { token: string; info: TokenInfo };
    expect(token).toMatch(/^fgl\./);
    expect(info).toMatchObject({ role: 'join', maxUses: 3, uses: 0, name: 'join token' });

    const listed = await cli(['token', 'list'], env);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`${info.id}\\s+join token\\s+join\\s+0/3\\s+never\\s+active`));

    const revoked = await cli(['token', 'revoke', info.id, '--json'], env);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(JSON.parse(revoked.stdout)).toEqual({ revoked: info.id });

    const after = JSON.parse((await cli(['token', 'list', '--all', '--json'], env)).stdout) as TokenInfo[];
    expect(after.find((entry) => entry.id === info.id)?.revokedAt).not.toBeNull();

    // A flag beats the variable: a bad --token overrides a good FOGLINE_TOKEN.
    const overridden = await cli(['token', 'list', '--token', 'fgl.0000000000000000.not-a-real-secret'], env);
    expect(overridden.code).toBe(1);
  });

  it('prints nodes as a table and as JSON that scripts can parse', async () => {
    const json = await viaDataDir(['nodes', 'list', '--json']);
    expect(json.code, json.stderr).toBe(0);
    const nodes = JSON.parse(json.stdout) as NodeView[];
    expect(nodes).toEqual([
      expect.objectContaining({ id: nodeId, name: 'cli-node', role: 'edge', status: 'offline', labels: { site: 'plant-a' } }),
    ]);

    const table = await viaDataDir(['nodes', 'list']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^NAME\s+ID\s+ROLE\s+STATUS/);
    expect(table.stdout).toMatch(new RegExp(`cli-node\\s+${nodeId}\\s+edge\\s+offline`));

    const selected = JSON.parse((await viaDataDir(['nodes', 'list', '--json', '--selector', 'site=plant-b'])).stdout) as NodeView[];
    expect(selected).toEqual([]);

    const one = await viaDataDir(['nodes', 'get', 'cli-node', '--json']);
    expect(one.code, one.stderr).toBe(0);
    expect((JSON.parse(one.stdout) as NodeView).id).toBe(nodeId);
    const described = await viaDataDir(['nodes', 'get', nodeId]);
    expect(described.stdout).toMatch(/Name:\s+cli-node/);
    expect(described.stdout).toMatch(/Labels:\s+site=plant-a/);
  });

  it('sets and removes labels, cordons and uncordons', async () => {
    const labelled = await viaDataDir(['nodes', 'label', 'cli-node', 'zone=north', 'tier=gold']);
    expect(labelled.code, labelled.stderr).toBe(0);
    expect(await labelsOf(nodeId)).toEqual({ site: 'plant-a', zone: 'north', tier: 'gold' });

    const removed = await viaDataDir(['nodes', 'label', 'cli-node', 'tier-', '--json']);
    expect(removed.code, removed.stderr).toBe(0);
    expect((JSON.parse(removed.stdout) as NodeView).labels).toEqual({ site: 'plant-a', zone: 'north' });

    const cordoned = await viaDataDir(['nodes', 'cordon', 'cli-node']);
    expect(cordoned.code, cordoned.stderr).toBe(0);
    expect(cordoned.stdout).toContain('cli-node cordoned.');
    expect(JSON.parse((await viaDataDir(['nodes', 'get', 'cli-node', '--json'])).stdout)).toMatchObject({ cordoned: true });
    const uncordoned = await viaDataDir(['nodes', 'uncordon', 'cli-node', '--json']);
    expect(JSON.parse(uncordoned.stdout)).toMatchObject({ cordoned: false });
  });

  it('refuses an invalid label with a clear message and changes nothing', async () => {
    const before = await labelsOf(nodeId);
    for (const bad of [['bad key=x'], ['zone=south', 'bad key=x'], ['site=no spaces'], ['novalue']]) {
      const result = await viaDataDir(['nodes', 'label', 'cli-node', ...bad]);
      expect(result.code, `nodes label ${bad.join(' ')}`).not.toBe(0);
      expect(result.stderr).toMatch(/^error: .*(label|key=value)/m);
      expect(result.stderr).not.toMatch(NO_STACK_TRACE);
      expect(await labelsOf(nodeId)).toEqual(before);
    }
    const named = await viaDataDir(['nodes', 'label', 'cli-node', 'bad key=x']);
    expect(named.stderr).toContain('"bad key"');
  });

  it('says clearly when the node does not exist', async () => {
    const result = await viaDataDir(['nodes', 'get', 'no-such-node']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: No node has the id or name "no-such-node"/m);
  });

  it('a wrong token gives a clear error and exit code 1', async () => {
    for (const token of ['fgl.0000000000000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'not-a-token']) {
      const result = await cli(['nodes', 'list', '--server', serverUrl, '--token', token]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^error: The token is not valid/m);
      expect(result.stderr).not.toMatch(NO_STACK_TRACE);
      expect(result.stdout).toBe('');
    }
    // Same through the environment.
    const viaEnv = await cli(['token', 'list'], { FOGLINE_SERVER: serverUrl, FOGLINE_TOKEN: 'not-a-token' });
    expect(viaEnv.code).toBe(1);
    expect(viaEnv.stderr).toMatch(/The token is not valid/);
  });

  it('an unreachable server gives a clear "Cannot reach" message', async () => {
    const port = await freePort(); // nothing listens there
    const result = await cli(['nodes', 'list', '--server', `http://127.0.0.1:${port}`, '--token', adminToken]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^error: Cannot reach the control plane at http://127\\.0\\.0\\.1:${port}`, 'm'));
    expect(result.stderr).toContain('ECONNREFUSED');
    expect(result.stderr).not.toMatch(NO_STACK_TRACE);
  });

  it('says where it looked when it finds no token', async () => {
    const empty = tempDir('cli-empty');
    try {
      const result = await cli(['nodes', 'list', '--data-dir', empty]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('No API token');
      expect(result.stderr).toContain(path.join(empty, 'admin.token'));
      expect(result.stderr).not.toMatch(NO_STACK_TRACE);
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });

  it('bad arguments are refused before anything is sent', async () => {
    const before = JSON.parse((await viaDataDir(['token', 'list', '--all', '--json'])).stdout) as TokenInfo[];
    for (const args of [['--role', 'join', '--max-uses', '0'], ['--role', 'join', '--expires-in', '5x'], ['--role', 'superuser'], []]) {
      const result = await viaDataDir(['token', 'create', ...args]);
      expect(result.code, `token create ${args.join(' ')}`).not.toBe(0);
      expect(result.stderr).toMatch(/error: /);
    }
    const after = JSON.parse((await viaDataDir(['token', 'list', '--all', '--json'])).stdout) as TokenInfo[];
    expect(after).toHaveLength(before.length);
  });

  it('datasets get --version shows that version, not the program version', async () => {
    const csv = path.join(elsewhere, 'load.csv');
    const hours = (count: number) =>
      [
        'time,load',
        ...Array.from({ length: count }, (_, i) => `${new Date(Date.UTC(2024, 0, 1) + i * 3_600_000).toISOString()},${1000 + (i % 24)}`),
      ].join('\n');
    for (const rows of [100, 120]) {
      fs.writeFileSync(csv, hours(rows));
      const pushed = await viaDataDir(['datasets', 'push', csv, '--name', 'cli-load']);
      expect(pushed.code, pushed.stderr).toBe(0);
    }
    const first = await viaDataDir(['datasets', 'get', 'cli-load', '--version', '1']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^Dataset:\s+cli-load version 1 \(timeseries\)/m);
    expect(first.stdout).toMatch(/^Rows:\s+100$/m);
    const latest = await viaDataDir(['datasets', 'get', 'cli-load', '--json']);
    expect(JSON.parse(latest.stdout)).toMatchObject({ name: 'cli-load', version: 2, rowCount: 120 });
    // The same option written before the argument, and as --version=N.
    for (const args of [
      ['datasets', 'get', '--version', '2', 'cli-load'],
      ['datasets', 'get', 'cli-load', '--version=2'],
    ]) {
      const result = await viaDataDir([...args, '--json']);
      expect(result.code, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ version: 2 });
    }
  });

  it('drift events says so when there are none, with and without --timeline', async () => {
    for (const extra of [[], ['--timeline'], ['--deployment', 'energy', '--timeline']]) {
      const result = await viaDataDir(['drift', 'events', ...extra]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/^No drift events yet/);
    }
    for (const extra of [[], ['--timeline']]) {
      const json = await viaDataDir(['drift', 'events', '--json', ...extra]);
      expect(json.code, json.stderr).toBe(0);
      expect(JSON.parse(json.stdout)).toEqual([]);
    }
  });

  it('the audit log shows who changed what', async () => {
    const result = await viaDataDir(['audit', '--json', '--limit', '200']);
    expect(result.code, result.stderr).toBe(0);
    const events = JSON.parse(result.stdout) as AuditList['events'];
    expect(events.length).toBeGreaterThan(0);
    expect(events).toContainEqual(
      expect.objectContaining({ action: 'POST /api/v1/tokens', statusCode: 201, actor: expect.objectContaining({ role: 'admin' }) }),
    );
    expect(events).toContainEqual(expect.objectContaining({ action: 'DELETE /api/v1/tokens/:id', statusCode: 204 }));
    expect(events).toContainEqual(expect.objectContaining({ action: 'PATCH /api/v1/nodes/:id/labels', target: 'cli-node' }));
    const table = await viaDataDir(['audit']);
    expect(table.stdout).toMatch(/^ID\s+TIME\s+ACTOR\s+ACTION/);
  });
});

describe('a port that is taken', { timeout: 60_000 }, () => {
  const holder = net.createServer();
  let port: number;
  const dirs: string[] = [];

  beforeAll(async () => {
    port = await freePort();
    await new Promise<void>((resolve) => holder.listen({ host: '127.0.0.1', port }, resolve));
  });

  afterAll(async () => {
    await new Promise((resolve) => holder.close(resolve));
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['server', []],
    ['agent', ['--server', 'http://127.0.0.1:9', '--join-token', 'fgl.0000000000000000.unused']],
  ])('fogline %s says what to do in one line and exits 4 (port in use)', async (role, extra) => {
    const dataDir = tempDir(`cli-port-${role}`);
    dirs.push(dataDir);
    const result = await runFogline([role, '--port', String(port), '--data-dir', dataDir, ...extra], cleanFoglineEnv());
    expect(result.code).toBe(4);
    expect(result.stderr).toBe(
      `error: port ${port} on 127.0.0.1 is in use (another fogline ${role}?): stop it, or pick another with --port\n`,
    );
  });
});

describe('fogline fl split', { timeout: 60_000 }, () => {
  const dir = tempDir('cli-fl-split');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes one file per site and prints the commands that use them, with flags that exist', async () => {
    const csv = fileURLToPath(new URL('../../data/optdigits/optdigits.csv', import.meta.url));
    const split = await runFogline(['fl', 'split', csv, '--sites', '3', '--out', 'fl-sites'], cleanFoglineEnv(), dir);
    expect(split.code, split.stderr).toBe(0);
    for (const site of [1, 2, 3]) {
      expect(fs.existsSync(path.join(dir, 'fl-sites', `site-${site}.csv`))).toBe(true);
      expect(split.stdout).toContain(
        `\n  fogline agent --server http://127.0.0.1:7070 --join-token "$JOIN" --name site-${site} --labels fl=demo --data-dir .fogline/fl/site-${site} --port 0 --fl-data fl-sites/site-${site}.csv\n`,
      );
    }
    expect(split.stdout).toContain('JOIN=$(fogline token create --role join --max-uses 3)');
    const start =
      'fogline fl start --model digits-fl --dataset-kind digits --nodes fl=demo --rounds 20 --strategy fedadam --fraction-fit 1 --min-fit-clients 2 --round-timeout 30';
    expect(split.stdout).toContain(`\n  ${start}\n`);

    // Every flag of the agent line is one `fogline agent` takes.
    const agentHelp = (await runFogline(['agent', '--help'], cleanFoglineEnv())).stdout;
    const agentLine = split.stdout.split('\n').find((line) => line.includes('--name site-1'))!;
    for (const flag of agentLine.match(/--[a-z-]+/g)!) expect(agentHelp).toContain(`${flag} <`);
    // The fl start line parses: it gets as far as calling the (absent) server.
    const nowhere = `http://127.0.0.1:${await freePort()}`;
    const started = await runFogline(
      [...start.split(' ').slice(1), '--server', nowhere, '--token', 'fgl.0000000000000000.x'],
      cleanFoglineEnv(),
    );
    expect(started.code).toBe(1);
    expect(started.stderr).toMatch(/^error: Cannot reach the control plane/m);
  });
});
