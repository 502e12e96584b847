import fs from 'node:fs';
import path from 'node:path';
import type { TokenRepository } from '../auth/token-repository.js';

export const ADMIN_TOKEN_FILE = 'admin.token';

/**
 * On the first start against an empty database, creates the admin token, writes it to
 * `<data dir>/admin.token` (mode 0600, through a temporary file so it is never half-written) and
 * returns it so that the caller can print it once. Returns undefined when an admin already exists.
 */
export async function bootstrapAdminToken(tokens: TokenRepository, dataDir: string): Promise<string | undefined> {
  if ((await tokens.countByRole('admin')) > 0) return undefined;
  const { token } = await tokens.create({ name: 'bootstrap admin', role: 'admin' });
  writeSecretFile(path.join(dataDir, ADMIN_TOKEN_FILE), `${token}\n`);
  return token;
}

export function writeSecretFile(file: string, content: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, content, { mode: 0o600 });
  fs.renameSync(temporary, file);
}
