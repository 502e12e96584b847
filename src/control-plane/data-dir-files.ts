import path from 'node:path';
import { readTrimmed, writePrivateFile } from '../files/private-file.js';

/**
 * Files the control plane leaves in its data folder so that the CLI on the same machine works
 * without flags: the admin token (first start only, or handed to `fogline up --token`) and the URL it listens on.
 */
export const ADMIN_TOKEN_FILE = 'admin.token';
export const SERVER_INFO_FILE = 'server.json';

export function writeServerInfo(dataDir: string, url: string): void {
  writePrivateFile(path.join(dataDir, SERVER_INFO_FILE), `${JSON.stringify({ url, pid: process.pid })}\n`);
}

export function readServerUrl(dataDir: string): string | undefined {
  const text = readTrimmed(path.join(dataDir, SERVER_INFO_FILE));
  if (!text) return undefined;
  try {
    return (JSON.parse(text) as { url?: string }).url;
  } catch {
    return undefined;
  }
}

export function readAdminToken(dataDir: string): string | undefined {
  return readTrimmed(path.join(dataDir, ADMIN_TOKEN_FILE));
}

/** Saves the admin token where the CLI on this machine looks for it (mode 0600). */
export function writeAdminToken(dataDir: string, token: string): void {
  writePrivateFile(path.join(dataDir, ADMIN_TOKEN_FILE), `${token}\n`);
}
