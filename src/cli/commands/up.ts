import path from 'node:path';
import { Command } from 'commander';
import { UP_OPTIONS } from '../../config/up-options.js';
import { cliCommand } from '../../embedded/cli-hint.js';
import { DEMO_DATASET, startEmbeddedCluster } from '../../embedded/embedded-cluster.js';
import { runDemo } from '../../embedded/embedded-demo.js';
import { addOptions, readOptions } from '../command-options.js';
import { stopOnSignals } from '../shutdown.js';

export function upCommand(): Command {
  const command = new Command('up').description('Run an all-in-one cluster here: control plane + two edge agents, one data folder');
  addOptions(command, UP_OPTIONS);
  return command.action(async (_options, self: Command) => {
    const config = readOptions(UP_OPTIONS, self);
    const cli = (args: string) => cliCommand(args, config.dataDir);
    const write = (line: string) => console.log(line);
    console.log(`Starting Fogline in ${config.dataDir} …`);
    const cluster = await startEmbeddedCluster(config, write);
    // Before "Fogline is up": whoever reads that line may stop it at once.
    const demo = new AbortController();
    stopOnSignals(
      async () => {
        demo.abort();
        await cluster.stop();
      },
      (message) => console.log(message),
    );
    const relativeToken = path.relative(process.cwd(), cluster.adminTokenFile) || cluster.adminTokenFile;
    console.log(
      [
        '',
        'Fogline is up.',
        `  control plane  ${cluster.serverUrl}   (API: ${cluster.serverUrl}/api/v1/openapi.json)`,
        ...cluster.agents.map((agent) => `  ${agent.name.padEnd(13)}  ${agent.url}   (${agent.labels})`),
        `  admin token    ${relativeToken}`,
        '',
        'In another terminal, from this folder:',
        `  ${cli('nodes list')}`,
        `  ${cli(`runs start forecast --dataset ${DEMO_DATASET.name}`)}      (train a day-ahead load forecaster)`,
        'Press Ctrl-C to stop everything.',
      ].join('\n'),
    );
    if (config.demo === 'yes') {
      // The demo is a show, not a duty: when it fails (or Ctrl-C stops it) the cluster keeps running.
      runDemo({ client: cluster.client, agents: cluster.agents, write, cli, signal: demo.signal }).catch((error: Error) => {
        if (!demo.signal.aborted) console.log(`[demo] stopped: ${error.message.replaceAll('\n', '\n[demo]   ')}`);
      });
    }
    const part = await cluster.exited;
    console.error(`${part} stopped unexpectedly; stopping the rest.`);
    await cluster.stop();
    process.exit(1);
  });
}
