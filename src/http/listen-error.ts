import { ConfigError } from '../errors/config-error.js';

/**
 * A failed `listen` as one line that says what to do (the CLI prints a ConfigError without a
 * stack trace), e.g. for a taken port:
 * `port 7070 on 127.0.0.1 is in use (another fogline server?): stop it, or pick another with --port`.
 * Errors it has no advice for come back as they are.
 */
export function listenError(error: unknown, where: { host: string; port: number; what: 'server' | 'agent' }): unknown {
  const { host, port, what } = where;
  switch ((error as NodeJS.ErrnoException | undefined)?.code) {
    case 'EADDRINUSE':
      // With the cause, so that the CLI exits 4 (port in use) rather than 2 (bad configuration).
      return Object.assign(
        new ConfigError(`port ${port} on ${host} is in use (another fogline ${what}?): stop it, or pick another with --port`),
        { cause: error },
      );
    case 'EACCES':
      return new ConfigError(`port ${port} on ${host} needs privileges this user lacks: pick one above 1023 with --port`);
    case 'EADDRNOTAVAIL':
      return new ConfigError(`${host} is not an address of this machine: pick another with --host (127.0.0.1, or 0.0.0.0 for all)`);
    default:
      return error;
  }
}
