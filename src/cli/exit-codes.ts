import { CommanderError, InvalidArgumentError } from 'commander';
import { ConfigError } from '../errors/config-error.js';
import { FoglineError } from '../errors/fogline-error.js';

/**
 * How the long-running processes (`fogline server`, `agent`, `worker`, `up`) exit, so that
 * systemd, Kubernetes and compose can tell a crash from a setting that a restart will not fix.
 * Client commands (`nodes list`, `runs start`, ...) keep 0 and 1.
 */
export const EXIT_CODES = {
  /** Done, or stopped cleanly on SIGTERM / SIGINT (`--migrate-only`: migrated). */
  ok: 0,
  /** An unexpected error, a failed shutdown, or a second signal during shutdown. */
  error: 1,
  /** Bad configuration: an unknown or malformed flag or FOGLINE_* value, an unreadable TLS file, an unwritable data dir. */
  config: 2,
  /** The database cannot be reached, or a migration failed. */
  database: 3,
  /** The port to listen on is taken by another process. */
  portInUse: 4,
} as const;

/** The commands whose errors map to EXIT_CODES; the others exit 1 on any error. */
export const PROCESS_COMMANDS = new Set(['server', 'agent', 'worker', 'up']);

/** The subcommand of `argv` (process.argv): program options (-V, -h) come before it. */
export function subcommandOf(argv: string[]): string | undefined {
  return argv.slice(2).find((arg) => !arg.startsWith('-'));
}

/** The exit code of a process command that failed with `error`. */
export function processExitCode(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_CODES.ok : EXIT_CODES.config;
  if (error instanceof InvalidArgumentError) return EXIT_CODES.config;
  if (error instanceof ConfigError) {
    const cause = (error as { cause?: { code?: unknown } }).cause;
    return cause?.code === 'EADDRINUSE' ? EXIT_CODES.portInUse : EXIT_CODES.config;
  }
  if (error instanceof FoglineError && error.code === 'FOGLINE_ERR_DB_UNAVAILABLE') return EXIT_CODES.database;
  return EXIT_CODES.error;
}
