import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { ApiClient } from '../client/api-client.js';
import { CLIENT_OPTIONS } from '../config/client-options.js';
import { ADMIN_TOKEN_FILE } from '../control-plane/admin-bootstrap.js';
import { SERVER_INFO_FILE } from '../control-plane/control-plane.js';
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
  const server = options.server ?? readServerUrl(options.dataDir) ?? DEFAULT_SERVER;
  const token = options.token ?? readFileTrimmed(path.join(options.dataDir, ADMIN_TOKEN_FILE));
  if (!token) {
    throw new Error(
      `No API token: pass --token, set FOGLINE_TOKEN, or run this where ${path.join(options.dataDir, ADMIN_TOKEN_FILE)} exists (fogline up / fogline server create it)`,
    );
  }
  return { client: new ApiClient({ server, token }), json: command.optsWithGlobals().json === true };
}

function readServerUrl(dataDir: string): string | undefined {
  const text = readFileTrimmed(path.join(dataDir, SERVER_INFO_FILE));
  if (!text) return undefined;
  try {
    return (JSON.parse(text) as { url?: string }).url;
  } catch {
    return undefined;
  }
}

function readFileTrimmed(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
