import { claimSingleReplica } from '../cluster/single-replica.js';
import { listenError } from '../http/listen-error.js';
import { httpsOptions } from '../http/tls.js';
import { sweepTemporaryFiles } from '../files/temporary-files.js';
import { ensureWritableDir } from '../files/writable-dir.js';
import type { ResolvedOptions } from '../config/options.js';
import type { SERVER_OPTIONS } from '../config/server-options.js';
import { FoglineError } from '../errors/fogline-error.js';
import { redactPassword } from '../store/database-url.js';
import { migrateToLatest, openStore } from '../store/store.js';
import { bootstrapAdminToken } from './admin-bootstrap.js';
import { buildControlPlaneApp, type ControlPlaneApp } from './app.js';
import { writeServerInfo } from './data-dir-files.js';
import { createServices, type ServiceSettings } from './services.js';
import { DatabaseArtifactStore } from '../registry/database-artifact-store.js';

export type ServerConfig = ResolvedOptions<typeof SERVER_OPTIONS>;

export interface RunningControlPlane {
  app: ControlPlaneApp;
  url: string;
  /** Set on the first start only: the admin token, to show once. */
  adminToken?: string;
  /** Stops accepting connections, finishes in-flight requests, closes the database. */
  stop(): Promise<void>;
}

/** The database could not be opened or migrated: the CLI exits 3 (EXIT_CODES.database). */
function databaseError(db: string, error: unknown): FoglineError {
  return Object.assign(
    new FoglineError('FOGLINE_ERR_DB_UNAVAILABLE', `Could not prepare the database ${redactPassword(db)}: ${(error as Error).message}`),
    { cause: error },
  );
}

/** Opens the database and migrates it to the latest schema; the store stays open. */
async function openMigrated(db: string): Promise<{ store: ReturnType<typeof openStore>; applied: string[] }> {
  // A malformed --db throws a ConfigError here (exit 2); only reaching and migrating it is exit 3.
  const store = openStore(db);
  try {
    const { applied } = await migrateToLatest(store);
    return { store, applied };
  } catch (error) {
    await store.close().catch(() => undefined);
    throw databaseError(db, error);
  }
}

/**
 * `fogline server --migrate-only`: migrates the database to this version's schema and closes it,
 * without listening (an upgrade job: a Kubernetes init container, a compose one-shot service).
 * Returns the migrations it applied (none when the schema was current).
 */
export async function migrateOnly(config: Pick<ServerConfig, 'db' | 'dataDir'>): Promise<string[]> {
  if (config.db.startsWith('sqlite:')) ensureWritableDir(config.dataDir, '--data-dir (FOGLINE_DATA_DIR)');
  const { store, applied } = await openMigrated(config.db);
  await store.close();
  return applied;
}

/** Opens and migrates the database, bootstraps the admin token and listens. */
/** `config` is what `fogline server` resolved; tests may add settings that have no flag (ServiceSettings). */
export async function startControlPlane(config: ServerConfig & Partial<ServiceSettings>): Promise<RunningControlPlane> {
  ensureWritableDir(config.dataDir, '--data-dir (FOGLINE_DATA_DIR)');
  // What a killed server left half-written (uploads, the step cache, files written by rename).
  const swept = sweepTemporaryFiles(config.dataDir);
  const { store } = await openMigrated(config.db);
  const https = httpsOptions(config);
  // The registry key may come as the PEM itself in the environment only (never a flag: it would show in ps).
  const services = createServices(store, { ...config, signingKeyPem: config.signingKeyPem ?? process.env.FOGLINE_SIGNING_KEY });
  // The first try for the leader lease, before anything else is written: on SQLite a second
  // control plane stops here. On PostgreSQL and MariaDB a replica that does not get it follows.
  try {
    await services.lease.start();
    if (store.dialect === 'sqlite') await claimSingleReplica(services.lease);
  } catch (error) {
    if (store.dialect === 'sqlite') {
      await services.lease.stop();
      await services.runs.stop();
      await services.inference.close();
      await store.close();
      throw error;
    }
  }
  const adminToken = await bootstrapAdminToken(services.tokens, config.dataDir);
  const app = await buildControlPlaneApp(services, {
    bodyLimitBytes: config.bodyLimitBytes,
    https,
    logger: { level: config.logLevel },
    trustProxy: config.trustProxy,
  });
  if (services.artifacts instanceof DatabaseArtifactStore) {
    const abandoned = await services.artifacts.sweepAbandoned();
    if (abandoned > 0) app.log.info({ abandoned }, 'removed unfinished uploads to the database artifact store');
  }
  if (swept.length > 0) app.log.info({ removed: swept }, 'removed temporary files a stopped process left behind');
  // Runs stop before the database closes: a run in progress goes back to the queue for the next start or worker.
  app.addHook('onClose', async () => {
    await services.runs.stop();
    await services.inference.close();
    await store.close();
  });
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    // Closes the runs, the inference pool and the database that were opened for nothing.
    await app.close();
    throw listenError(error, { host: config.host, port: config.port, what: 'server' });
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const url = `${https ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  // Lets the CLI on this machine find the server without flags.
  writeServerInfo(config.dataDir, url);
  return {
    app,
    url,
    adminToken,
    stop: () => app.close(),
  };
}
