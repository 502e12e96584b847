import os from 'node:os';
import path from 'node:path';
import { EDGE_AUTH_MODES } from '../contracts/edge-access.js';
import { OVERLOAD_MODES, type OverloadMode } from '../contracts/deployments.js';
import { NODE_ROLES } from '../contracts/nodes.js';
import { ConfigError } from '../errors/config-error.js';
import type { LabelMap } from '../nodes/labels.js';
import { parseLabelList } from '../nodes/labels.js';
import { option, parseChoice, parsePort, parsePositiveNumber, parseString } from './options.js';
import { caOption, logLevelOption, tlsOptions } from './server-options.js';

function parseBatchSize(raw: string, name: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 256) throw new ConfigError(`${name} must be an integer from 1 to 256, got "${raw}"`);
  return value;
}

function parseDelayMs(raw: string, name: string): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < 0 || value > 1000) {
    throw new ConfigError(`${name} must be a number of milliseconds from 0 to 1000, got "${raw}"`);
  }
  return value;
}

function parseThreadCount(raw: string, name: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 256) throw new ConfigError(`${name} must be an integer from 0 to 256, got "${raw}"`);
  return value;
}

function parseLabels(raw: string, name: string): LabelMap {
  try {
    return parseLabelList(raw);
  } catch (error) {
    throw new ConfigError(`${name}: ${(error as Error).message}`);
  }
}

/** `fogline agent`: one per node. */
export const AGENT_OPTIONS = {
  server: option({
    flag: '--server <url>',
    env: 'FOGLINE_SERVER',
    description: 'URL of the control plane',
    defaultText: 'the server it enrolled with, else http://127.0.0.1:7070',
    defaultValue: () => undefined as string | undefined,
    parse: parseString,
  }),
  joinToken: option({
    flag: '--join-token <token>',
    env: 'FOGLINE_JOIN_TOKEN',
    description: 'Join token for the first start (fogline token create --role join); not needed once enrolled',
    defaultText: '(none)',
    defaultValue: () => undefined as string | undefined,
    parse: parseString,
  }),
  name: option({
    flag: '--name <name>',
    env: 'FOGLINE_NODE_NAME',
    description: 'Node name, unique in the cluster (lowercase letters, digits, "-", ".")',
    defaultText: 'the host name',
    defaultValue: () => os.hostname().toLowerCase(),
    parse: parseString,
  }),
  labels: option({
    flag: '--labels <k=v,...>',
    env: 'FOGLINE_NODE_LABELS',
    description: 'Labels set at enrolment, e.g. site=plant-a,zone=north',
    defaultText: '(none)',
    defaultValue: (): LabelMap => ({}),
    parse: parseLabels,
  }),
  role: option({
    flag: '--role <role>',
    env: 'FOGLINE_NODE_ROLE',
    description: 'edge or cloud',
    defaultText: 'edge',
    defaultValue: () => 'edge' as (typeof NODE_ROLES)[number],
    parse: parseChoice(NODE_ROLES),
  }),
  dataDir: option({
    flag: '--data-dir <dir>',
    env: 'FOGLINE_AGENT_DATA_DIR',
    description: "Agent's folder: its node credential, desired state and model cache",
    defaultText: './.fogline-agent',
    defaultValue: () => path.resolve('.fogline-agent'),
    parse: (raw) => path.resolve(raw),
  }),
  host: option({
    flag: '--host <address>',
    env: 'FOGLINE_AGENT_HOST',
    description: 'Address the agent listens on',
    defaultText: '127.0.0.1',
    defaultValue: () => '127.0.0.1',
    parse: parseString,
  }),
  port: option({
    flag: '--port <port>',
    env: 'FOGLINE_AGENT_PORT',
    description: 'Port the agent serves health and inference on (0 picks a free one)',
    defaultText: '7071',
    defaultValue: () => 7071,
    parse: parsePort,
  }),
  advertiseUrl: option({
    flag: '--advertise-url <url>',
    env: 'FOGLINE_AGENT_URL',
    description: 'URL the control plane and clients use to reach this agent',
    defaultText: 'http://<host>:<port>, with the host name when listening on 0.0.0.0',
    defaultValue: () => undefined as string | undefined,
    parse: parseString,
  }),
  cacheLimitBytes: option({
    flag: '--cache-limit <bytes>',
    env: 'FOGLINE_AGENT_CACHE_LIMIT',
    description: 'Size the model artifact cache is trimmed to; versions in use are never evicted',
    defaultText: '1073741824 (1 GiB)',
    defaultValue: () => 1024 ** 3,
    parse: parsePositiveNumber,
  }),
  maxBatchSize: option({
    flag: '--max-batch-size <n>',
    env: 'FOGLINE_AGENT_MAX_BATCH_SIZE',
    description: 'Most concurrent requests to one model version run as one batch (1: no batching)',
    defaultText: '8',
    defaultValue: () => 8,
    parse: parseBatchSize,
  }),
  ...tlsOptions('FOGLINE_AGENT'),
  ca: caOption,
  edgeAuth: option({
    flag: '--edge-auth <mode>',
    env: 'FOGLINE_AGENT_EDGE_AUTH',
    description:
      "Who may call this agent's /v2 and /metrics (health and readiness stay open). open: anyone who reaches the port (a lab; fogline up); token: a bearer inference token (fogline token create --role inference --deployment <name>, --metrics for Prometheus), checked here against the ids and hashes that come with the desired state, or a stream's ?session= token; mtls: a client certificate chained to --client-ca (needs --tls-cert and --tls-key). Whatever the mode, POST …/actuals needs an inference token for the deployment when its drift policy uploads samples",
    defaultText: 'open',
    defaultValue: () => 'open' as const,
    parse: parseChoice(EDGE_AUTH_MODES),
  }),
  clientCa: option({
    flag: '--client-ca <file>',
    env: 'FOGLINE_AGENT_CLIENT_CA',
    description:
      '--edge-auth mtls: CA certificate (PEM) that client certificates must chain to; a client without one is refused during the TLS handshake',
    defaultText: '(none)',
    defaultValue: () => undefined as string | undefined,
    parse: parseString,
  }),
  predictorIsolation: option({
    flag: '--predictor-isolation <mode>',
    env: 'FOGLINE_AGENT_PREDICTOR_ISOLATION',
    description:
      'in-process: predictors run on the agent thread (measured fastest for small models); worker: each model version in its own worker thread (a crash or a stuck predict cannot take the agent down)',
    defaultText: 'in-process',
    defaultValue: () => 'in-process' as const,
    parse: parseChoice(['in-process', 'worker'] as const),
  }),
  runtime: option({
    flag: '--runtime <runtime>',
    env: 'FOGLINE_AGENT_RUNTIME',
    description:
      "onnx: serve each model's ONNX graph with ONNX Runtime (built-in models carry one beside their tfjs weights; imported models have only that); tfjs: serve built-in models with TensorFlow.js (imported models still need ONNX Runtime)",
    defaultText: 'onnx',
    defaultValue: () => 'onnx' as const,
    parse: parseChoice(['onnx', 'tfjs'] as const),
  }),
  onnxThreads: option({
    flag: '--onnx-threads <n>',
    env: 'FOGLINE_AGENT_ONNX_THREADS',
    description:
      'ONNX Runtime intra-op threads per model (0: one per core); 1 keeps small models fastest while HTTP work uses the other cores',
    defaultText: '1',
    defaultValue: () => 1,
    parse: parseThreadCount,
  }),
  onnxProvider: option({
    flag: '--onnx-provider <name>',
    env: 'FOGLINE_AGENT_ONNX_PROVIDER',
    description:
      "ONNX Runtime execution provider: cpu, or one this machine's onnxruntime-node has (e.g. cuda where its libraries are installed)",
    defaultText: 'cpu',
    defaultValue: () => 'cpu',
    parse: parseString,
  }),
  streamSessions: option({
    flag: '--stream-sessions <mode>',
    env: 'FOGLINE_AGENT_STREAM_SESSIONS',
    description:
      'open: anyone may use the WebSocket stream (a ?session= token is still checked when given); required: only with a session token from POST /api/v1/sessions placed on this node',
    defaultText: 'open',
    defaultValue: () => 'open' as const,
    parse: parseChoice(['open', 'required'] as const),
  }),
  maxBatchDelayMs: option({
    flag: '--max-batch-delay-ms <ms>',
    env: 'FOGLINE_AGENT_MAX_BATCH_DELAY_MS',
    description:
      'How long a request to an idle model waits for others to batch with; 0 sends it at once (batches still form while one runs)',
    defaultText: '0',
    defaultValue: () => 0,
    parse: parseDelayMs,
  }),
  offloadCpuLoad: option({
    flag: '--offload-cpu-load <per-core>',
    env: 'FOGLINE_AGENT_OFFLOAD_CPU_LOAD',
    description:
      'auto offloading: send requests to the cloud while the 1-minute load average per CPU is at least this (0: never for CPU; the queue, memory and model health still count)',
    defaultText: '2',
    defaultValue: () => 2,
    parse: (raw, name) => {
      const value = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(value) || value < 0)
        throw new ConfigError(`${name} must be a number of at least 0, got "${raw}"`);
      return value;
    },
  }),
  offloadOverload: option({
    flag: '--offload-overload <mode>',
    env: 'FOGLINE_AGENT_OFFLOAD_OVERLOAD',
    description:
      'auto offloading, when neither this node nor the cloud can answer within the latency target: shed (answer 429 with Retry-After at once) or queue (wait on the side expected sooner)',
    defaultText: 'shed',
    defaultValue: (): OverloadMode => 'shed',
    parse: parseChoice(OVERLOAD_MODES),
  }),
  offloadTimeoutMs: option({
    flag: '--offload-timeout-ms <ms>',
    env: 'FOGLINE_AGENT_OFFLOAD_TIMEOUT_MS',
    description: 'How long an offloaded request may take in the cloud before the node answers it itself',
    defaultText: '2000',
    defaultValue: () => 2000,
    parse: parsePositiveNumber,
  }),
  flData: option({
    flag: '--fl-data <path>',
    env: 'FOGLINE_FL_DATA',
    description:
      "This node's own data for federated learning (a digits CSV: 64 pixels + label per row; or a load series CSV: time, value). It never leaves the node; without it the agent takes no federated tasks",
    defaultText: '(none: no federated learning)',
    defaultValue: () => undefined as string | undefined,
    parse: (raw) => path.resolve(raw),
  }),
  mqttUrl: option({
    flag: '--mqtt-url <url>',
    env: 'FOGLINE_MQTT_URL',
    description:
      'MQTT broker for deployments with device bindings (deploy create --mqtt-in): mqtt://host:1883 or mqtts://host:8883. Without it the agent serves such deployments on /v2 only and says so',
    defaultText: '(none)',
    defaultValue: () => undefined as string | undefined,
    parse: parseMqttUrl,
  }),
  mqttUsername: option({
    flag: '--mqtt-username <name>',
    env: 'FOGLINE_MQTT_USERNAME',
    description: 'User name for the MQTT broker',
    defaultText: '(none)',
    defaultValue: () => undefined as string | undefined,
    parse: parseString,
  }),
  mqttPassword: option({
    flag: '--mqtt-password <password>',
    env: 'FOGLINE_MQTT_PASSWORD',
    description: 'Password for the MQTT broker (prefer the variable: a flag shows in the process list); never logged',
    defaultText: '(none)',
    defaultValue: () => undefined as string | undefined,
    parse: parseString,
  }),
  mqttCa: option({
    flag: '--mqtt-ca <file>',
    env: 'FOGLINE_MQTT_CA',
    description: "mqtts: CA certificate (PEM) the broker's certificate must chain to; only it is trusted (pinning)",
    defaultText: '(none: the system CAs)',
    defaultValue: () => undefined as string | undefined,
    parse: parseString,
  }),
  mqttCert: option({
    flag: '--mqtt-cert <file>',
    env: 'FOGLINE_MQTT_CERT',
    description: 'mqtts: client certificate (PEM) for brokers that authenticate clients by certificate (with --mqtt-key)',
    defaultText: '(none)',
    defaultValue: () => undefined as string | undefined,
    parse: parseString,
  }),
  mqttKey: option({
    flag: '--mqtt-key <file>',
    env: 'FOGLINE_MQTT_KEY',
    description: 'mqtts: private key (PEM) of --mqtt-cert',
    defaultText: '(none)',
    defaultValue: () => undefined as string | undefined,
    parse: parseString,
  }),
  logLevel: logLevelOption,
};

/** mqtt:// or mqtts:// with a host; user and password belong in --mqtt-username / FOGLINE_MQTT_PASSWORD, not the URL (it is logged). */
function parseMqttUrl(raw: string, name: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be a URL like mqtt://broker:1883 or mqtts://broker:8883, got "${raw}"`);
  }
  if (url.protocol !== 'mqtt:' && url.protocol !== 'mqtts:')
    throw new ConfigError(`${name} must start with mqtt:// or mqtts://, got "${url.protocol}//"`);
  if (url.hostname === '') throw new ConfigError(`${name} needs a host, e.g. mqtt://broker:1883`);
  if (url.username !== '' || url.password !== '')
    throw new ConfigError(`${name} must not hold a user or password: use --mqtt-username and FOGLINE_MQTT_PASSWORD`);
  return url.toString().replace(/\/$/, '');
}
