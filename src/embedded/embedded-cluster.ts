import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { loadNodeIdentity } from '../agent/node-identity.js';
import { ApiClient } from '../client/api-client.js';
import { ApiError } from '../client/api-error.js';
import type { ResolvedOptions } from '../config/options.js';
import type { UP_OPTIONS } from '../config/up-options.js';
import { ADMIN_TOKEN_FILE, readAdminToken, writeAdminToken } from '../control-plane/data-dir-files.js';
import { shellWord } from '../store/database-hints.js';
import { parseDatabaseUrl, redactPassword } from '../store/database-url.js';
import { spawnFogline, waitUntilReady } from './child-process.js';
import { cliCommand, fromScratchCommand } from './cli-hint.js';
import { SupervisedChild } from './supervisor.js';

export type UpConfig = ResolvedOptions<typeof UP_OPTIONS>;

/** The two local edge agents of the embedded cluster. */
export const EMBEDDED_AGENTS = [
  { name: 'edge-1', labels: 'site=plant-a' },
  { name: 'edge-2', labels: 'site=plant-b' },
] as const;

const READY_TIMEOUT_MS = 60_000;

/** The vendored PJM East series (see data/energy/PROVENANCE.md): the demo's dataset. */
export const DEMO_DATASET = {
  name: 'pjme',
  file: fileURLToPath(new URL('../../data/energy/PJME_hourly_trimmed.csv', import.meta.url)),
  timeColumn: 'Datetime',
  valueColumn: 'PJME_MW',
} as const;

/** Registers the demo dataset on the first start; later starts find it there. */
async function registerDemoDataset(client: ApiClient, write: (line: string) => void): Promise<void> {
  const { datasets } = await client.listDatasets();
  if (datasets.some((dataset) => dataset.name === DEMO_DATASET.name)) return;
  const body = Readable.toWeb(fs.createReadStream(DEMO_DATASET.file)) as ReadableStream<Uint8Array>;
  const view = await client.pushDataset(DEMO_DATASET.name, body, {
    kind: 'timeseries',
    timeColumn: DEMO_DATASET.timeColumn,
    valueColumn: DEMO_DATASET.valueColumn,
    filename: path.basename(DEMO_DATASET.file),
  });
  write(
    `[up] registered the demo dataset ${view.name} (${view.rowCount} hourly rows of PJM East load, ${view.timeStart?.slice(0, 10)} .. ${view.timeEnd?.slice(0, 10)})`,
  );
}

/** One of the cluster's agents, once it runs. */
export interface EmbeddedAgent {
  name: string;
  labels: string;
  url: string;
  nodeId: string;
}

export interface EmbeddedCluster {
  serverUrl: string;
  /** The web dashboard, served by the control plane (sign in with the admin token). */
  dashboardUrl: string;
  agents: EmbeddedAgent[];
  adminTokenFile: string;
  /** The admin's API client, for what `up` does after start (the demo). */
  client: ApiClient;
  /**
   * Resolves with a part's name when it exits by itself and is not started again: parts are
   * restarted with back-off (see supervisor.ts) unless they exit with bad configuration or a
   * taken port, which a restart would only repeat.
   */
  exited: Promise<string>;
  stop(): Promise<void>;
}

/**
 * `fogline up`: a control plane and two agents as child processes sharing one data folder.
 * Running it again reuses the folder: same database, same node identities, no re-enrolment.
 */
export async function startEmbeddedCluster(config: UpConfig, write: (line: string) => void): Promise<EmbeddedCluster> {
  fs.mkdirSync(config.dataDir, { recursive: true });
  const children: SupervisedChild[] = [];
  // Resolves with the name of a part that ended in a way restarts cannot mend (bad configuration, port taken).
  let gaveUp: (name: string) => void = () => undefined;
  const exited = new Promise<string>((resolve) => (gaveUp = resolve));
  const stop = async () => {
    await Promise.all([...children].reverse().map((child) => child.stop()));
  };
  try {
    const serverUrl = `http://127.0.0.1:${config.port}`;
    // The database URL goes by environment: it may hold a password, and `ps` shows arguments.
    const spawnServer = () =>
      spawnFogline(
        'server',
        ['server', '--data-dir', config.dataDir, '--port', String(config.port), '--log-level', config.logLevel],
        write,
        {
          FOGLINE_DB: config.db,
        },
      );
    const server = spawnServer();
    children.push(new SupervisedChild('server', () => Promise.resolve(spawnServer()), server, write, gaveUp));
    await waitUntilReady(`${serverUrl}/readyz`, server, READY_TIMEOUT_MS).catch((error: Error) => {
      throw new Error(`The control plane did not start: ${error.message} (the [server] lines above say why)`);
    });

    const adminTokenFile = path.join(config.dataDir, ADMIN_TOKEN_FILE);
    const client = await adminClient(config, serverUrl, write);
    await refuseUnknownNodes(client, config);
    const agents: EmbeddedAgent[] = [];
    for (const [index, agent] of EMBEDDED_AGENTS.entries()) {
      const dataDir = agentDataDir(config, agent.name);
      const port = config.port + index + 1;
      const args = ['agent', '--server', serverUrl, '--name', agent.name, '--labels', agent.labels, '--role', 'edge'];
      args.push('--data-dir', dataDir, '--port', String(port), '--log-level', config.logLevel);
      if (!loadNodeIdentity(dataDir)) await refuseTakenName(client, agent.name, dataDir, config);
      // On a restart too: an agent that died before it enrolled needs a fresh join token.
      const spawnAgent = async () => {
        // The join token goes by environment (the agent reads FOGLINE_JOIN_TOKEN), out of `ps`.
        const env: NodeJS.ProcessEnv = {};
        if (!loadNodeIdentity(dataDir)) {
          const { token } = await client.createToken({ name: `join for ${agent.name}`, role: 'join', maxUses: 1, expiresInSeconds: 600 });
          env.FOGLINE_JOIN_TOKEN = token;
        }
        return spawnFogline(agent.name, args, write, env);
      };
      const child = await spawnAgent();
      children.push(new SupervisedChild(agent.name, spawnAgent, child, write, gaveUp));
      const url = `http://127.0.0.1:${port}`;
      await waitUntilReady(`${url}/readyz`, child, READY_TIMEOUT_MS).catch((error: Error) => {
        throw new Error(`Agent ${agent.name} did not start: ${error.message} (the [${agent.name}] lines above say why)`);
      });
      const identity = loadNodeIdentity(dataDir);
      if (!identity) throw new Error(`Agent ${agent.name} runs but left no node credential in ${dataDir}`);
      agents.push({ name: agent.name, labels: agent.labels, url, nodeId: identity.nodeId });
    }

    await registerDemoDataset(client, write);
    const dashboardUrl = `${serverUrl}/ui/`;
    const tokenPath = path.relative(process.cwd(), adminTokenFile) || adminTokenFile;
    write(`[up] dashboard: ${dashboardUrl}  (sign in with the token in ${tokenPath})`);

    // From here on a part that dies by itself is started again, with back-off; an exit we asked
    // for (Ctrl-C, stop()) is not news.
    for (const child of children) child.arm();
    return { serverUrl, dashboardUrl, agents, adminTokenFile, client, exited, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * The admin's client: with the token the control plane wrote into the data folder on the
 * database's first start, else with --token / FOGLINE_TOKEN (then saved there, for the CLI and
 * the next start). A token the database refuses, or none: the folder and the database do not
 * belong together, and the error says what to do about it.
 */
async function adminClient(config: UpConfig, server: string, write: (line: string) => void): Promise<ApiClient> {
  const file = path.join(config.dataDir, ADMIN_TOKEN_FILE);
  const database = parseDatabaseUrl(config.db);
  const shownDb = database.dialect === 'sqlite' ? database.target : redactPassword(config.db);
  const scratch = `  To start from scratch (everything in it is lost): ${fromScratchCommand(config)}`;
  const saved = readAdminToken(config.dataDir);
  if (saved) {
    const client = new ApiClient({ server, token: saved });
    if (await isAdmin(client)) return client;
    throw new Error(
      [
        `The database (${shownDb}) refuses the admin token in ${file}: this data folder was used with another database, or the database was recreated since.`,
        `  Start with the database this folder was used with (--db / FOGLINE_DB), or delete ${file} and pass an admin token of this database with --token or FOGLINE_TOKEN.`,
        scratch,
      ].join('\n'),
    );
  }
  if (!config.token) {
    throw new Error(
      [
        `${file} is missing, and the database (${shownDb}) already has an admin token from an earlier start, so this start did not make a new one.`,
        `  To keep what the database holds: start with the data folder of that earlier start (--data-dir), or pass an admin token of this database with --token or FOGLINE_TOKEN.`,
        scratch,
      ].join('\n'),
    );
  }
  const client = new ApiClient({ server, token: config.token });
  if (!(await isAdmin(client)))
    throw new Error(`The token given with --token / FOGLINE_TOKEN is not an admin token of the database (${shownDb}).`);
  writeAdminToken(config.dataDir, config.token);
  write(`[up] saved the admin token you passed to ${path.relative(process.cwd(), file) || file}; later starts and the CLI read it there`);
  return client;
}

/** Listing tokens needs the admin role: a token that may do it may do all that `up` does. */
async function isAdmin(client: ApiClient): Promise<boolean> {
  return client.listTokens().then(
    () => true,
    (error: unknown) => {
      if (error instanceof ApiError && (error.status === 401 || error.status === 403)) return false;
      throw error;
    },
  );
}

function agentDataDir(config: UpConfig, name: string): string {
  return path.join(config.dataDir, 'agents', name);
}

function isNotFound(error: unknown): boolean {
  return error instanceof ApiError && error.status === 404;
}

/**
 * An agent whose credential names a node the database does not know (the node was deleted, or
 * the database is a new one) would retry its refused heartbeats until `up` gave up on it.
 */
async function refuseUnknownNodes(client: ApiClient, config: UpConfig): Promise<void> {
  const unknown: { name: string; nodeId: string; dataDir: string }[] = [];
  for (const agent of EMBEDDED_AGENTS) {
    const dataDir = agentDataDir(config, agent.name);
    const identity = loadNodeIdentity(dataDir);
    if (!identity) continue;
    const known = await client.getNode(identity.nodeId).then(
      () => true,
      (error: unknown) => {
        if (isNotFound(error)) return false;
        throw error;
      },
    );
    if (!known) unknown.push({ name: agent.name, nodeId: identity.nodeId, dataDir });
  }
  if (unknown.length === 0) return;
  throw new Error(
    [
      `The database does not know ${unknown.map((agent) => `${agent.name} (node ${agent.nodeId})`).join(' or ')}, whose credentials are in this data folder: the node was deleted, or the database is not the one this folder was used with (a new or recreated one).`,
      `  To enrol them again: rm -r ${unknown.map((agent) => shellWord(agent.dataDir)).join(' ')}`,
      `  To start everything from scratch: ${fromScratchCommand(config)}`,
    ].join('\n'),
  );
}

/** An agent without a credential cannot take the name of a node the database already has. */
async function refuseTakenName(client: ApiClient, name: string, dataDir: string, config: UpConfig): Promise<void> {
  const existing = await client.getNode(name).catch((error: unknown) => {
    if (isNotFound(error)) return undefined;
    throw error;
  });
  if (!existing) return;
  throw new Error(
    [
      `The database already has a node named ${name}, enrolled from another data folder, and ${dataDir} holds no credential for it: ${name} cannot join under its name.`,
      `  Start with the data folder that enrolled it (--data-dir), or delete the old node with a control plane running on this database (${cliCommand(`nodes delete ${name}`, config.dataDir)}).`,
      `  To start from scratch (everything in the database is lost): ${fromScratchCommand(config)}`,
    ].join('\n'),
  );
}
