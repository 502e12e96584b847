import { pinCertificateAuthority } from '../http/tls.js';
import path from 'node:path';
import type { Command } from 'commander';
import { ApiClient } from '../client/api-client.js';
import { CLIENT_OPTIONS } from '../config/client-options.js';
import { ADMIN_TOKEN_FILE, readAdminToken, readServerUrl } from '../control-plane/data-dir-files.js';
import { ConfigError } from '../errors/config-error.js';
import { addOptions, readOptions } from './command-options.js';

const DEFAULT_SERVER = 'http://127.0.0.1:7070';

/** Adds --server, --token, --data-dir and --json to an API-calling command. */
export function withClientOptions(command: Command): Command {
  return addOptions(command, CLIENT_OPTIONS).option('--json', 'Print JSON instead of a table (for scripts)', false);
}

/**
 * Finds the server and token: flags, then FOGLINE_SERVER / FOGLINE_TOKEN, then the data folder
 * that `fogline up` or `fogline server` wrote (server.json, admin.token).
 */
export function clientFor(command: Command): { client: ApiClient; json: boolean } {
  const options = readOptions(CLIENT_OPTIONS, command);
  pinCertificateAuthority(options.ca);
  const server = options.server ?? readServerUrl(options.dataDir) ?? DEFAULT_SERVER;
  const token = options.token ?? readAdminToken(options.dataDir);
  if (!token) {
    throw new ConfigError(
      `No API token: ${path.join(options.dataDir, ADMIN_TOKEN_FILE)} does not exist. Pass --data-dir (or set FOGLINE_DATA_DIR) to the data folder that fogline up / fogline server print at start, or pass --token / set FOGLINE_TOKEN`,
    );
  }
  return { client: new ApiClient({ server, token }), json: command.optsWithGlobals().json === true };
}
