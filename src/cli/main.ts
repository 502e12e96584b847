import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { ApiError } from '../client/api-error.js';
import { ConfigError } from '../errors/config-error.js';
import { FoglineError } from '../errors/fogline-error.js';
import { versionText } from '../version.js';
import { PROCESS_COMMANDS, processExitCode, subcommandOf } from './exit-codes.js';
import { agentCommand } from './commands/agent.js';
import { workerCommand } from './commands/worker.js';
import { auditCommand } from './commands/audit.js';
import { backupCommand, restoreCommand } from './commands/backup.js';
import { datasetsCommand } from './commands/datasets.js';
import { deployCommand } from './commands/deploy.js';
import { driftCommand } from './commands/drift.js';
import { flCommand } from './commands/fl.js';
import { modelsCommand } from './commands/models.js';
import { nodesCommand } from './commands/nodes.js';
import { predictCommand } from './commands/predict.js';
import { sessionsCommand } from './commands/sessions.js';
import { runsCommand } from './commands/runs.js';
import { serverCommand } from './commands/server.js';
import { tokenCommand } from './commands/token.js';
import { upCommand } from './commands/up.js';
import { installTerminalSafeConsole } from './output.js';

/**
 * The `fogline` command tree. Program options (-V/--version) are read only before the subcommand
 * (enablePositionalOptions): after it, `--version` is the subcommand's own, as in
 * `fogline models download energy --version 3` or `fogline datasets get pjme --version 1`.
 */
export function buildProgram(): Command {
  return new Command('fogline')
    .description('Fogline: train in the cloud, serve at the edge. One control plane for cloud and edge nodes.')
    .version(versionText())
    .enablePositionalOptions()
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Examples:
  fogline up                                      control plane + two local edge agents in ./.fogline
  fogline nodes list                              the cluster's nodes (finds ./.fogline by itself)
  fogline runs start forecast --dataset pjme      train a forecaster on the dataset the demo uploaded
  fogline deploy get energy                       the demo's deployment, node by node
  fogline token create --role join --max-uses 5   a token for agents to enrol with
  fogline agent --server http://cloud:7070 --join-token fgl.… --name pi-1 --labels site=plant-a

Every command takes --help. Server and token come from flags, FOGLINE_SERVER / FOGLINE_TOKEN,
or the data folder (--data-dir, FOGLINE_DATA_DIR, default ./.fogline).`,
    )
    .addCommand(upCommand())
    .addCommand(serverCommand())
    .addCommand(agentCommand())
    .addCommand(workerCommand())
    .addCommand(tokenCommand())
    .addCommand(nodesCommand())
    .addCommand(datasetsCommand())
    .addCommand(runsCommand())
    .addCommand(modelsCommand())
    .addCommand(deployCommand())
    .addCommand(flCommand())
    .addCommand(driftCommand())
    .addCommand(predictCommand())
    .addCommand(sessionsCommand())
    .addCommand(auditCommand())
    .addCommand(backupCommand())
    .addCommand(restoreCommand());
}

/**
 * Runs the CLI; known errors print one clear line, with no stack trace, and exit 1. The
 * long-running processes (server, agent, worker, up) exit with the codes of EXIT_CODES instead
 * (2 bad configuration, 3 database, 4 port in use), which systemd and Kubernetes act on.
 */
export async function main(argv: string[]): Promise<void> {
  installTerminalSafeConsole();
  const program = buildProgram();
  // Every subcommand too (addCommand does not pass it on): usage errors reach the catch below.
  const overrideExit = (command: Command): void => {
    command.exitOverride();
    for (const sub of command.commands) overrideExit(sub);
  };
  overrideExit(program);
  const isProcess = PROCESS_COMMANDS.has(subcommandOf(argv) ?? '');
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError && !(error instanceof InvalidArgumentError)) {
      // Commander printed the usage error already.
      process.exit(isProcess ? processExitCode(error) : error.exitCode);
    }
    if (error instanceof InvalidArgumentError) {
      console.error(`error: ${error.message}`);
      process.exit(isProcess ? processExitCode(error) : 1);
    }
    if (error instanceof ApiError || error instanceof ConfigError || error instanceof FoglineError || !process.env.FOGLINE_DEBUG) {
      // One clear line for users; FOGLINE_DEBUG=1 shows the stack of unexpected errors.
      console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(isProcess ? processExitCode(error) : 1);
    }
    throw error;
  }
}
