import { Command } from 'commander';
import { WORKER_OPTIONS } from '../../config/worker-options.js';
import { ConfigError } from '../../errors/config-error.js';
import { addOptions, readOptions } from '../command-options.js';
import { stopOnSignals } from '../shutdown.js';

export function workerCommand(): Command {
  const command = new Command('worker').description(
    "Train pipeline runs taken from the installation's work queue on Redis (control-plane replicas with --redis put them there); runs a killed worker held go to another",
  );
  addOptions(command, WORKER_OPTIONS);
  return command.action(async (_options, self: Command) => {
    const config = readOptions(WORKER_OPTIONS, self);
    if (!config.redis)
      throw new ConfigError('fogline worker takes runs from Redis: pass --redis (or set FOGLINE_REDIS), the same the control plane has');
    if (!config.token)
      throw new ConfigError(
        'fogline worker needs an operator token: pass --token (or set FOGLINE_TOKEN); fogline token create --role operator makes one',
      );
    const { startWorker } = await import('../../worker/worker.js');
    const running = startWorker({ ...config, server: config.server ?? 'http://127.0.0.1:7070', redis: config.redis, token: config.token });
    stopOnSignals(running.stop);
  });
}
