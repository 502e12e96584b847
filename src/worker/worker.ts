import { ApiClient } from '../client/api-client.js';
import type { LOG_LEVELS } from '../config/server-options.js';
import { pinCertificateAuthority } from '../http/tls.js';
import { type RunJob, RunExecutor } from '../pipelines/run-executor.js';
import { VERSION } from '../version.js';
import { BullMqWorkQueue } from '../work-queue/bullmq-work-queue.js';
import { HttpRunHost } from './http-run-host.js';

export interface WorkerConfig {
  server: string;
  token: string;
  ca?: string | undefined;
  redis: string;
  redisChannel: string;
  concurrency: number;
  cacheDir: string;
  name: string;
  workerLostSeconds: number;
  logLevel: (typeof LOG_LEVELS)[number];
}

export interface RunningWorker {
  /** Stops taking runs; runs in progress go back to the queue for another worker. */
  stop(): Promise<void>;
}

const QUIET = new Set(['fatal', 'error', 'warn', 'silent']);

/**
 * A training worker: takes runs from the installation's work queue on Redis, trains them here
 * and reports to the control plane over its REST API. It needs no database and no data folder.
 */
export function startWorker(config: WorkerConfig): RunningWorker {
  pinCertificateAuthority(config.ca);
  const log = (message: string, fields: Record<string, unknown> = {}) => {
    if (!QUIET.has(config.logLevel))
      console.log(JSON.stringify({ time: new Date().toISOString(), worker: config.name, msg: message, ...fields }));
  };
  const client = new ApiClient({ server: config.server, token: config.token, timeoutMs: 30_000 });
  const executor = new RunExecutor({
    host: new HttpRunHost(client, config.cacheDir),
    workerName: config.name,
    cacheDir: config.cacheDir,
    codeVersion: VERSION,
    log,
  });
  const queue = new BullMqWorkQueue<RunJob>(config.redis, {
    prefix: `${config.redisChannel}:queue`,
    stalledAfterMs: config.workerLostSeconds * 1000,
  });
  const consumer = queue.consume(
    async (job, signal) => {
      log('took a run', { runId: job.data.runId, attempt: job.attempt });
      const outcome = await executor.execute(job.data, signal);
      log(outcome ? 'gave the run back for later' : 'finished with the run', { runId: job.data.runId, ...(outcome ?? {}) });
      return outcome;
    },
    { concurrency: config.concurrency },
  );
  log('waiting for runs', { server: config.server, concurrency: config.concurrency, version: VERSION });
  return {
    stop: async () => {
      await consumer.close();
      await queue.close();
    },
  };
}
