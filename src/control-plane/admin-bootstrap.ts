import path from 'node:path';
import type { TokenRepository } from '../auth/token-repository.js';
import { writePrivateFile } from '../files/private-file.js';
import { ADMIN_TOKEN_FILE } from './data-dir-files.js';

/**
 * On the first start against an empty database, creates the admin token, writes it to
 * `<data dir>/admin.token` (mode 0600) and returns it so that the caller can print it once.
 * Returns undefined when an admin token already exists.
 */
export async function bootstrapAdminToken(tokens: TokenRepository, dataDir: string): Promise<string | undefined> {
  if ((await tokens.countByRole('admin')) > 0) return undefined;
  const { token } = await tokens.create({ name: 'bootstrap admin', role: 'admin' });
  writePrivateFile(path.join(dataDir, ADMIN_TOKEN_FILE), `${token}\n`);
  return token;
}
