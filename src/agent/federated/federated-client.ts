import { Worker } from 'node:worker_threads';
import { ApiClient } from '../../client/api-client.js';
import { ApiError } from '../../client/api-error.js';
import type { BearerToken } from '../../client/bearer-token.js';
import type { FederatedTask } from '../../contracts/federated.js';
import { backoffDelay } from '../backoff.js';
import { detectDataKind } from './data-kind.js';
import type { TrainReply, TrainRequest } from './training-protocol.js';
import { compiledEntry } from '../../files/compiled-entry.js';

const workerFile = () => compiledEntry(import.meta.url, 'training-worker.js');

interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface FederatedClientOptions {
  server: string;
  nodeId: string;
  credential: BearerToken;
  /** The node's own data (a digits CSV or a load series CSV). */
  dataPath: string;
  /** Seconds each task poll may wait on the server. */
  pollSeconds?: number;
}

export interface FederatedClient {
  /** Rounds this node trained and reported since it started. */
  readonly completed: number;
  stop(): Promise<void>;
}

/**
 * The agent as a federated client: long-polls the control plane for rounds it is sampled in,
 * trains on its local data in a worker thread from the round's global weights, and sends back
 * the encoded update with its example count. The data never leaves the node.
 */
export function startFederatedClient(options: FederatedClientOptions, log: Logger): FederatedClient {
  const client = new ApiClient({ server: options.server, token: options.credential });
  const controller = new AbortController();
  let worker: Worker | undefined;
  let nextId = 1;
  let completed = 0;
  const pending = new Map<number, { resolve: (reply: TrainReply) => void; reject: (error: Error) => void }>();

  const ensureWorker = (): Worker => {
    if (worker) return worker;
    const started = new Worker(workerFile());
    started.unref();
    started.on('message', (reply: TrainReply) => {
      const entry = pending.get(reply.id);
      pending.delete(reply.id);
      entry?.resolve(reply);
    });
    started.on('error', (error) => log.error({ err: error }, 'federated training worker failed'));
    started.on('exit', () => {
      if (worker === started) worker = undefined;
      for (const [id, entry] of pending) {
        pending.delete(id);
        entry.reject(new Error('the training worker stopped'));
      }
    });
    worker = started;
    return started;
  };

  const train = (task: FederatedTask, weightsFrame: Uint8Array): Promise<TrainReply> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      const request: TrainRequest = { type: 'train', id, task, weightsFrame, dataPath: options.dataPath };
      ensureWorker().postMessage(request);
    });

  const runTask = async (task: FederatedTask): Promise<void> => {
    const weights = await client.federatedWeights(task.weightsPath);
    const reply = await train(task, weights);
    if (reply.type === 'failed') {
      log.warn({ job: task.jobId, round: task.round, reason: reply.message }, 'local training failed; skipping this round');
      return;
    }
    const receipt = await client.sendFederatedUpdate(task.updatePath, reply.frame);
    completed += 1;
    log.info(
      { job: task.jobId, round: task.round, examples: reply.examples, bytes: receipt.bytes, status: receipt.status },
      'federated update sent',
    );
  };

  const kind = detectDataKind(options.dataPath);
  if (!kind) log.warn({ file: options.dataPath }, 'could not tell what kind of data --fl-data holds; taking tasks of any kind');
  const loop = (async () => {
    let failures = 0;
    while (!controller.signal.aborted) {
      try {
        const { tasks } = await client.federatedTasks(options.nodeId, options.pollSeconds ?? 10, kind ? [kind] : undefined);
        failures = 0;
        for (const task of tasks) {
          if (controller.signal.aborted) break;
          try {
            await runTask(task);
          } catch (error) {
            // A round that closed meanwhile, a rejected update: this round is lost, later ones are not.
            log.warn({ job: task.jobId, round: task.round, err: (error as Error).message }, 'federated task failed');
          }
        }
      } catch (error) {
        if (controller.signal.aborted) break;
        failures += 1;
        const delay = backoffDelay(failures, 500, 10_000);
        if (!(error instanceof ApiError && error.unreachable)) log.warn({ err: (error as Error).message }, 'federated task poll failed');
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
      }
    }
  })();

  return {
    get completed() {
      return completed;
    },
    async stop() {
      controller.abort();
      await worker?.terminate();
      worker = undefined;
      await Promise.race([loop, new Promise((resolve) => setTimeout(resolve, 100).unref())]);
    },
  };
}
