import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { loadNodeIdentity } from '../agent/node-identity.js';
import { ApiClient } from '../client/api-client.js';
import type { ResolvedOptions } from '../config/options.js';
import type { UP_OPTIONS } from '../config/up-options.js';
import { ADMIN_TOKEN_FILE, readAdminToken } from '../control-plane/data-dir-files.js';
import { spawnFogline, stopChild, waitUntilReady } from './child-process.js';

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

export interface EmbeddedCluster {
  serverUrl: string;
  /** The web dashboard, served by the control plane (sign in with the admin token). */
  dashboardUrl: string;
  agentUrls: string[];
  adminTokenFile: string;
  /** The admin's API client, for what `up` does after start (the demo). */
  client: ApiClient;
  /** Resolves when any part exits by itself (with its name). */
  exited: Promise<string>;
  stop(): Promise<void>;
}

/**
 * `fogline up`: a control plane and two agents as child processes sharing one data folder.
 * Running it again reuses the folder: same database, same node identities, no re-enrolment.
 */
export async function startEmbeddedCluster(config: UpConfig, write: (line: string) => void): Promise<EmbeddedCluster> {
  fs.mkdirSync(config.dataDir, { recursive: true });
  const children: ChildProcess[] = [];
  let stopping = false;
  const stop = async () => {
    stopping = true;
    await Promise.all([...children].reverse().map((child) => stopChild(child)));
  };
  try {
    const serverUrl = `http://127.0.0.1:${config.port}`;
    const server = spawnFogline(
      'server',
      ['server', '--data-dir', config.dataDir, '--port', String(config.port), '--log-level', config.logLevel],
      write,
    );
    children.push(server);
    await waitUntilReady(`${serverUrl}/readyz`, server, READY_TIMEOUT_MS).catch((error: Error) => {
      throw new Error(`The control plane did not start: ${error.message} (is port ${config.port} free? try --port)`);
    });

    const adminTokenFile = path.join(config.dataDir, ADMIN_TOKEN_FILE);
    const adminToken = readAdminToken(config.dataDir);
    if (!adminToken)
      throw new Error(`${adminTokenFile} is missing: the embedded cluster needs the admin token its control plane wrote there`);
    const client = new ApiClient({ server: serverUrl, token: adminToken });
    const agentUrls: string[] = [];
    for (const [index, agent] of EMBEDDED_AGENTS.entries()) {
      const dataDir = path.join(config.dataDir, 'agents', agent.name);
      const port = config.port + index + 1;
      const args = ['agent', '--server', serverUrl, '--name', agent.name, '--labels', agent.labels, '--role', 'edge'];
      args.push('--data-dir', dataDir, '--port', String(port), '--log-level', config.logLevel);
      if (!loadNodeIdentity(dataDir)) {
        const { token } = await client.createToken({ name: `join for ${agent.name}`, role: 'join', maxUses: 1, expiresInSeconds: 600 });
        args.push('--join-token', token);
      }
      const child = spawnFogline(agent.name, args, write);
      children.push(child);
      const url = `http://127.0.0.1:${port}`;
      await waitUntilReady(`${url}/readyz`, child, READY_TIMEOUT_MS).catch((error: Error) => {
        throw new Error(`Agent ${agent.name} did not start: ${error.message} (is port ${port} free?)`);
      });
      agentUrls.push(url);
    }

    await registerDemoDataset(client, write);
    const dashboardUrl = `${serverUrl}/ui/`;
    const tokenPath = path.relative(process.cwd(), adminTokenFile) || adminTokenFile;
    write(`[up] dashboard: ${dashboardUrl}  (sign in with the token in ${tokenPath})`);

    const exited = Promise.race(
      children.map(
        (child, index) =>
          new Promise<string>((resolve) =>
            child.once('exit', () => {
              // An exit we asked for is not news; only a part dying by itself is.
              if (!stopping) resolve(index === 0 ? 'server' : (EMBEDDED_AGENTS[index - 1]?.name ?? 'agent'));
            }),
          ),
      ),
    );
    return { serverUrl, dashboardUrl, agentUrls, adminTokenFile, client, exited, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
