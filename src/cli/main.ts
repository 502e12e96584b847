import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { ApiError } from '../client/api-error.js';
import { ConfigError } from '../errors/config-error.js';
import { FoglineError } from '../errors/fogline-error.js';
import { versionText } from '../version.js';
import { PROCESS_COMMANDS, processExitCode, subcommandOf } from './exit-codes.js';
import { installTerminalSafeConsole } from './output.js';
import { keepYoungGenerationSmall } from '../agent/young-generation.js';

/**
 * Each command's module, in the order help lists them. Imported only for the command that runs (all
 * of them for help or an unknown command): an agent does not hold the backup command's SQLite
 * driver, `fogline up`'s supervisor or the client commands' code (about 90 modules) for its lifetime.
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  up: async () => (await import('./commands/up.js')).upCommand(),
  server: async () => (await import('./commands/server.js')).serverCommand(),
  agent: async () => (await import('./commands/agent.js')).agentCommand(),
  worker: async () => (await import('./commands/worker.js')).workerCommand(),
  token: async () => (await import('./commands/token.js')).tokenCommand(),
  nodes: async () => (await import('./commands/nodes.js')).nodesCommand(),
  datasets: async () => (await import('./commands/datasets.js')).datasetsCommand(),
  runs: async () => (await import('./commands/runs.js')).runsCommand(),
  models: async () => (await import('./commands/models.js')).modelsCommand(),
  deploy: async () => (await import('./commands/deploy.js')).deployCommand(),
  fl: async () => (await import('./commands/fl.js')).flCommand(),
  drift: async () => (await import('./commands/drift.js')).driftCommand(),
  predict: async () => (await import('./commands/predict.js')).predictCommand(),
  sessions: async () => (await import('./commands/sessions.js')).sessionsCommand(),
  audit: async () => (await import('./commands/audit.js')).auditCommand(),
  backup: async () => (await import('./commands/backup.js')).backupCommand(),
  restore: async () => (await import('./commands/backup.js')).restoreCommand(),
};

/**
 * The `fogline` command tree: every command, or only `only` where it names one. Program options
 * (-V/--version) are read only before the subcommand (enablePositionalOptions): after it, `--version` is the subcommand's own, as in
 * `fogline models download energy --version 3` or `fogline datasets get pjme --version 1`.
 */
export async function buildProgram(only?: string): Promise<Command> {
  const names = only !== undefined && Object.hasOwn(COMMANDS, only) ? [only] : Object.keys(COMMANDS);
  const program = new Command('fogline')
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
    );
  for (const command of await Promise.all(names.map((name) => COMMANDS[name]!()))) program.addCommand(command);
  return program;
}

/**
 * Runs the CLI; known errors print one clear line, with no stack trace, and exit 1. The
 * long-running processes (server, agent, worker, up) exit with the codes of EXIT_CODES instead
 * (2 bad configuration, 3 database, 4 port in use), which systemd and Kubernetes act on.
 */
export async function main(argv: string[]): Promise<void> {
  installTerminalSafeConsole();
  const subcommand = subcommandOf(argv);
  // First, before the agent's modules fill the young generation (see keepYoungGenerationSmall).
  if (subcommand === 'agent') keepYoungGenerationSmall();
  const program = await buildProgram(subcommand);
  // Every subcommand too (addCommand does not pass it on): usage errors reach the catch below.
  const overrideExit = (command: Command): void => {
    command.exitOverride();
    for (const sub of command.commands) overrideExit(sub);
  };
  overrideExit(program);
  const isProcess = PROCESS_COMMANDS.has(subcommand ?? '');
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
