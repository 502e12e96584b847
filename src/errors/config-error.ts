/**
 * A setting this process cannot start with: a bad flag or `FOGLINE_*` value, an unreadable TLS
 * file, an unwritable data dir, a taken port. The CLI prints its message as one line, without a
 * stack trace, e.g. `throw new ConfigError('--port must be a port number from 0 to 65535, got "eighty"')`.
 */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
