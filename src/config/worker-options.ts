import os from 'node:os';
import path from 'node:path';
import { parseRedisUrl } from '../cluster/redis-url.js';
import { CLIENT_OPTIONS } from './client-options.js';
import { option, parsePositiveNumber, parseString } from './options.js';
import { logLevelOption, parseChannelName, workerLostOption } from './server-options.js';

/** `fogline worker`: trains pipeline runs that it takes from the installation's work queue on Redis. */
export const WORKER_OPTIONS = {
  server: {
    ...CLIENT_OPTIONS.server,
    defaultText: 'http://127.0.0.1:7070',
    description: 'Control plane URL (or nginx in front of its replicas)',
  },
  token: { ...CLIENT_OPTIONS.token, defaultText: '(required)', description: 'An operator token (fogline token create --role operator)' },
  ca: CLIENT_OPTIONS.ca,
  redis: option({
    flag: '--redis <url>',
    env: 'FOGLINE_REDIS',
    description: "The installation's Redis (redis:// or rediss://), the same the control plane was given",
    defaultText: '(required)',
    defaultValue: () => undefined as string | undefined,
    parse: parseRedisUrl,
  }),
  redisChannel: option({
    flag: '--redis-channel <name>',
    env: 'FOGLINE_REDIS_CHANNEL',
    description: "The installation's name on Redis: the control plane's --redis-channel",
    defaultText: 'fogline:changes',
    defaultValue: () => 'fogline:changes',
    parse: parseChannelName,
  }),
  concurrency: option({
    flag: '--concurrency <n>',
    env: 'FOGLINE_WORKER_CONCURRENCY',
    description: 'Runs this worker trains at the same time (each takes a worker thread and about a core)',
    defaultText: '1',
    defaultValue: () => 1,
    parse: (raw, name) => Math.floor(parsePositiveNumber(raw, name)),
  }),
  cacheDir: option({
    flag: '--cache-dir <dir>',
    env: 'FOGLINE_WORKER_CACHE_DIR',
    description: 'Where downloaded datasets and step outputs are kept between runs (content-addressed)',
    defaultText: '<system temp dir>/fogline-worker',
    defaultValue: () => path.join(os.tmpdir(), 'fogline-worker'),
    parse: (raw) => path.resolve(raw),
  }),
  name: option({
    flag: '--name <name>',
    env: 'FOGLINE_WORKER_NAME',
    description: 'How runs name this worker',
    defaultText: '<host name>:<process id>',
    defaultValue: () => `${os.hostname()}:${process.pid}`,
    parse: parseString,
  }),
  workerLostSeconds: workerLostOption,
  logLevel: logLevelOption,
};
