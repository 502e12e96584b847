import path from 'node:path';
import { ConfigError } from '../errors/config-error.js';
import net from 'node:net';
import { parseRedisUrl } from '../cluster/redis-url.js';
import { PIPELINE_NAMES } from '../contracts/runs.js';
import { option, parseChoice, parsePort, parsePositiveNumber, parseString } from './options.js';

/** Where a control plane keeps artifacts (`--artifact-store`). */
export const ARTIFACT_STORES = ['folder', 'database'] as const;

function parseCount(raw: string, name: string): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(value) || value < 0)
    throw new ConfigError(`${name} must be a whole number (0 or more), got "${raw}"`);
  return value;
}

function parseNonNegative(raw: string, name: string): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < 0)
    throw new ConfigError(`${name} must be a number (0 or more), got "${raw}"`);
  return value;
}

export const METRICS_ACCESS = ['viewer', 'public'] as const;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** A run's job whose worker stops renewing its hold on it this long goes to another (BullMQ's lock). */
export const workerLostOption = option({
  flag: '--worker-lost-after <seconds>',
  env: 'FOGLINE_WORKER_LOST_AFTER',
  description:
    "With --redis: a worker (or replica) that stops renewing its hold on a run's job for this long is taken for dead, and the run goes to another worker",
  defaultText: '30',
  defaultValue: () => 30,
  parse: parsePositiveNumber,
});

/** Options shared by every process that owns a data folder (`server` and `up`). */
export const dataDirOption = option({
  flag: '--data-dir <dir>',
  env: 'FOGLINE_DATA_DIR',
  description: 'Folder that holds the SQLite database, the admin token and everything an embedded install owns',
  defaultText: './.fogline',
  defaultValue: () => path.resolve('.fogline'),
  parse: (raw) => path.resolve(raw),
});

export const logLevelOption = option({
  flag: '--log-level <level>',
  env: 'FOGLINE_LOG_LEVEL',
  description: `Log level: ${LOG_LEVELS.join(', ')}`,
  defaultText: 'info',
  defaultValue: () => 'info' as (typeof LOG_LEVELS)[number],
  parse: parseChoice(LOG_LEVELS),
});

/** HTTPS for the process's own server: a certificate and its key (PEM); without them, plain HTTP. */
export function tlsOptions(prefix: string) {
  return {
    tlsCert: option({
      flag: '--tls-cert <file>',
      env: `${prefix}_TLS_CERT`,
      description: 'Certificate (PEM, with its chain) to serve HTTPS with; needs --tls-key',
      defaultText: '(none: plain HTTP)',
      defaultValue: () => undefined as string | undefined,
      parse: parseString,
    }),
    tlsKey: option({
      flag: '--tls-key <file>',
      env: `${prefix}_TLS_KEY`,
      description: 'Private key (PEM) of --tls-cert',
      defaultText: '(none)',
      defaultValue: () => undefined as string | undefined,
      parse: parseString,
    }),
  };
}

/** Outgoing HTTPS to the control plane: trust only this CA (pinning). */
export const caOption = option({
  flag: '--ca <file>',
  env: 'FOGLINE_CA',
  description: "CA certificate (PEM) the control plane's HTTPS certificate must chain to; only it is trusted (pinning)",
  defaultText: '(none: the system CAs)',
  defaultValue: () => undefined as string | undefined,
  parse: parseString,
});

/** `fogline server`: the control plane. */
export const SERVER_OPTIONS = {
  dataDir: dataDirOption,
  db: option({
    flag: '--db <url>',
    env: 'FOGLINE_DB',
    description: 'Database: sqlite:<path>, postgres://user@host/db or mysql://user@host/db (MariaDB)',
    defaultText: 'sqlite:<data dir>/fogline.db',
    defaultValue: (resolved) => `sqlite:${path.join(String(resolved.dataDir), 'fogline.db')}`,
    parse: parseString,
  }),
  host: option({
    flag: '--host <address>',
    env: 'FOGLINE_HOST',
    description: 'Address the control plane listens on (0.0.0.0 to accept agents from other machines)',
    defaultText: '127.0.0.1',
    defaultValue: () => '127.0.0.1',
    parse: parseString,
  }),
  port: option({
    flag: '--port <port>',
    env: 'FOGLINE_PORT',
    description: 'Port the control plane listens on (0 picks a free one)',
    defaultText: '7070',
    defaultValue: () => 7070,
    parse: parsePort,
  }),
  heartbeatIntervalSeconds: option({
    flag: '--heartbeat-interval <seconds>',
    env: 'FOGLINE_HEARTBEAT_INTERVAL',
    description: 'How often agents are told to send a heartbeat',
    defaultText: '15',
    defaultValue: () => 15,
    parse: parsePositiveNumber,
  }),
  nodeTimeoutSeconds: option({
    flag: '--node-timeout <seconds>',
    env: 'FOGLINE_NODE_TIMEOUT',
    description: 'A node whose last heartbeat is older than this shows as offline',
    defaultText: '45',
    defaultValue: () => 45,
    parse: parsePositiveNumber,
  }),
  bodyLimitBytes: option({
    flag: '--body-limit <bytes>',
    env: 'FOGLINE_BODY_LIMIT',
    description: 'Largest request body the API accepts, in bytes',
    defaultText: '1048576',
    defaultValue: () => 1_048_576,
    parse: parsePositiveNumber,
  }),
  datasetLimitBytes: option({
    flag: '--dataset-limit <bytes>',
    env: 'FOGLINE_DATASET_LIMIT',
    description: 'Largest dataset CSV an upload may send, in bytes',
    defaultText: '268435456 (256 MiB)',
    defaultValue: () => 268_435_456,
    parse: parsePositiveNumber,
  }),
  modelLimitBytes: option({
    flag: '--model-limit <bytes>',
    env: 'FOGLINE_MODEL_LIMIT',
    description: 'Largest ONNX file `models import` may upload, in bytes',
    defaultText: '536870912 (512 MiB)',
    defaultValue: () => 536_870_912,
    parse: parsePositiveNumber,
  }),
  importTrialSeconds: option({
    flag: '--import-trial-timeout <seconds>',
    env: 'FOGLINE_IMPORT_TRIAL_TIMEOUT',
    description: 'How long an imported model may take to load and answer its trial request before it is refused',
    defaultText: '60',
    defaultValue: () => 60,
    parse: parsePositiveNumber,
  }),
  redis: option({
    flag: '--redis <url>',
    env: 'FOGLINE_REDIS',
    description:
      'Redis (redis:// or rediss://) over which control-plane replicas that share one database pass change events (alias moves, revocations, deletions) to each other within milliseconds',
    defaultText: '(none: events stay in this process; run one replica)',
    defaultValue: () => undefined as string | undefined,
    parse: parseRedisUrl,
  }),
  redisChannel: option({
    flag: '--redis-channel <name>',
    env: 'FOGLINE_REDIS_CHANNEL',
    description:
      "--redis: the pub/sub channel of this installation's replicas; give each installation that shares a Redis its own (pub/sub ignores Redis database numbers)",
    defaultText: 'fogline:changes',
    defaultValue: () => 'fogline:changes',
    parse: parseChannelName,
  }),
  artifactStore: option({
    flag: '--artifact-store <kind>',
    env: 'FOGLINE_ARTIFACT_STORE',
    description:
      "Where model bundles, dataset versions and federated updates live: folder (this server's data dir) or database (in the database in 1 MiB chunks, shared by control-plane replicas)",
    defaultText: 'folder',
    defaultValue: () => 'folder' as (typeof ARTIFACT_STORES)[number],
    parse: parseChoice(ARTIFACT_STORES),
  }),
  signingKeyFile: option({
    flag: '--signing-key-file <file>',
    env: 'FOGLINE_SIGNING_KEY_FILE',
    description:
      "The registry's ed25519 signing key (PKCS#8 PEM, e.g. a mounted secret): give every replica the same key. FOGLINE_SIGNING_KEY may hold the PEM itself instead",
    defaultText: '<data dir>/signing-key.pem, created on first start',
    defaultValue: () => undefined as string | undefined,
    parse: parseString,
  }),
  trustProxy: option({
    flag: '--trust-proxy <addresses>',
    env: 'FOGLINE_TRUST_PROXY',
    description:
      'Proxies (comma list of addresses or CIDR ranges, e.g. 127.0.0.1,10.0.0.0/8) whose X-Forwarded-For/-Proto/-Host are believed: behind nginx, rate limits then count real clients',
    defaultText: '(none)',
    defaultValue: () => [] as string[],
    parse: parseProxyList,
  }),
  runConcurrency: option({
    flag: '--run-concurrency <n>',
    env: 'FOGLINE_RUN_CONCURRENCY',
    description:
      'Pipeline runs this process trains at the same time (each takes a worker thread and about a core); 0: only `fogline worker` processes train (needs --redis)',
    defaultText: '1',
    defaultValue: () => 1,
    parse: parseCount,
  }),
  pipelineConcurrency: option({
    flag: '--pipeline-concurrency <limits>',
    env: 'FOGLINE_PIPELINE_CONCURRENCY',
    description:
      'Most runs of a pipeline that train at once across every worker and replica, e.g. image-classifier=1,forecast=4; a run over the limit waits on the queue',
    defaultText: '(no limit per pipeline)',
    defaultValue: () => ({}) as Record<string, number>,
    parse: parsePipelineLimits,
  }),
  workerLostSeconds: workerLostOption,
  enrolRateLimit: option({
    flag: '--enrol-rate-limit <per-minute>',
    env: 'FOGLINE_ENROL_RATE_LIMIT',
    description: 'Enrolment attempts one client address may make per minute (0: no limit; raise it to enrol a large fleet behind one NAT)',
    defaultText: '600',
    defaultValue: () => 600,
    parse: parseCount,
  }),
  authFailureLimit: option({
    flag: '--auth-failure-limit <per-minute>',
    env: 'FOGLINE_AUTH_FAILURE_LIMIT',
    description:
      'Failed token checks per minute, counted per client address and per token id, past which the failing checks of that address or token get 429 until the minute ends; a valid token always passes (0: no limit)',
    defaultText: '30',
    defaultValue: () => 30,
    parse: parseCount,
  }),
  sampleClockSkewSeconds: option({
    flag: '--sample-clock-skew <seconds>',
    env: 'FOGLINE_SAMPLE_CLOCK_SKEW',
    description:
      "A node's uploaded samples may be at most this far ahead of the control plane's clock; later rows are refused (and the rest kept)",
    defaultText: '3600',
    defaultValue: () => 3600,
    parse: parsePositiveNumber,
  }),
  sampleValueBand: option({
    flag: '--sample-value-band <factor>',
    env: 'FOGLINE_SAMPLE_VALUE_BAND',
    description:
      "Uploaded samples must lie in the range of the dataset's newest version not made from samples, widened by this times its width on each side (and not below 0 if it never was); others are refused",
    defaultText: '1',
    defaultValue: () => 1,
    parse: parseNonNegative,
  }),
  sampleGapLimit: option({
    flag: '--sample-gap-limit <slots>',
    env: 'FOGLINE_SAMPLE_GAP_LIMIT',
    description:
      "Empty slots of the dataset's interval one sample upload may leave before and between its rows (reading the dataset fills them in); rows past it are refused",
    defaultText: '168',
    defaultValue: () => 168,
    parse: parseCount,
  }),
  sessionsPerNode: option({
    flag: '--sessions-per-node <count>',
    env: 'FOGLINE_SESSIONS_PER_NODE',
    description:
      'Inference sessions (POST /api/v1/sessions) one node takes at once; past it, new sessions go to another node or the cloud (0: always the cloud)',
    defaultText: '8',
    defaultValue: () => 8,
    parse: parseCount,
  }),
  sessionIdleSeconds: option({
    flag: '--session-idle-timeout <seconds>',
    env: 'FOGLINE_SESSION_IDLE_TIMEOUT',
    description:
      "A session's socket is closed after this long without a message (the node or the cloud closes it; carried in the session token)",
    defaultText: '300',
    defaultValue: () => 300,
    parse: parsePositiveNumber,
  }),
  sessionLoadTimeoutSeconds: option({
    flag: '--session-load-timeout <seconds>',
    env: 'FOGLINE_SESSION_LOAD_TIMEOUT',
    description:
      'When no node serving the deployment can take a session, a matching node loads it on demand; the session waits this long for it, then goes to the cloud (0: never load on demand)',
    defaultText: '30',
    defaultValue: () => 30,
    parse: parseCount,
  }),
  sessionReleaseSeconds: option({
    flag: '--session-release-after <seconds>',
    env: 'FOGLINE_SESSION_RELEASE_AFTER',
    description:
      'A deployment loaded on a node on demand for sessions is unloaded once the node has had no open session of it for this long (unless its node selector targets the node)',
    defaultText: '300',
    defaultValue: () => 300,
    parse: parsePositiveNumber,
  }),
  sessionMaxLoadPerCpu: option({
    flag: '--session-max-load <per-cpu>',
    env: 'FOGLINE_SESSION_MAX_LOAD',
    description:
      'A node whose 1-minute load average per CPU is at least this takes no new session (it goes to another node or the cloud, with the reason)',
    defaultText: '4',
    defaultValue: () => 4,
    parse: parsePositiveNumber,
  }),
  ...tlsOptions('FOGLINE'),
  metricsAccess: option({
    flag: '--metrics-access <who>',
    env: 'FOGLINE_METRICS_ACCESS',
    description:
      'Who may read GET /metrics: viewer (a viewer token or stronger; Prometheus sends one from a file) or public (anyone who reaches the port)',
    defaultText: 'viewer',
    defaultValue: () => 'viewer' as (typeof METRICS_ACCESS)[number],
    parse: parseChoice(METRICS_ACCESS),
  }),
  logLevel: logLevelOption,
  migrateOnly: option({
    flag: '--migrate-only',
    env: 'FOGLINE_MIGRATE_ONLY',
    description:
      "Migrate the database to this version's schema and exit (0 when done, 3 when the database cannot be reached or a migration fails), without listening: for upgrade jobs such as a Kubernetes init container",
    defaultText: 'off',
    defaultValue: () => false,
    parse: parseSwitch,
  }),
};

/** A switch's FOGLINE_* value: 1/true/yes or 0/false/no (the flag itself takes no value). */
function parseSwitch(raw: string, name: string): boolean {
  const value = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(value)) return true;
  if (['0', 'false', 'no', 'off'].includes(value)) return false;
  throw new ConfigError(`${name} must be 1/true/yes or 0/false/no, got "${raw}"`);
}

function parseProxyList(raw: string, name: string): string[] {
  const entries = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  for (const entry of entries) {
    const [address = '', prefix] = entry.split('/');
    const family = net.isIP(address);
    const prefixOk = prefix === undefined || (/^\d+$/.test(prefix) && Number(prefix) <= (family === 6 ? 128 : 32));
    if (family === 0 || !prefixOk) throw new ConfigError(`${name}: "${entry}" is not an IP address or CIDR range (e.g. 10.0.0.0/8)`);
  }
  return entries;
}

function parsePipelineLimits(raw: string, name: string): Record<string, number> {
  const limits: Record<string, number> = {};
  for (const entry of raw
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    const [pipeline = '', count = ''] = entry.split('=');
    const value = Number(count);
    if (!(PIPELINE_NAMES as readonly string[]).includes(pipeline) || !Number.isInteger(value) || value < 1) {
      throw new ConfigError(`${name}: "${entry}" is not <pipeline>=<n> with a pipeline of ${PIPELINE_NAMES.join(', ')} and n of 1 or more`);
    }
    limits[pipeline] = value;
  }
  return limits;
}

export function parseChannelName(raw: string, name: string): string {
  const channel = raw.trim();
  if (!/^[\w:.-]{1,200}$/.test(channel))
    throw new ConfigError(`${name} must be 1 to 200 letters, digits, ":", ".", "-" or "_", got "${raw}"`);
  return channel;
}
