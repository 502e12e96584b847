import type { TokenRepository } from '../auth/token-repository.js';
import { isUniqueViolation } from '../store/unique-violation.js';
import { writeAdminToken } from './data-dir-files.js';

/** The bootstrap admin token's id is fixed: of two servers starting at once, one creates it. */
export const BOOTSTRAP_ADMIN_ID = '0000000000000001';

/**
 * On the first start against an empty database, creates the admin token, writes it to
 * `<data dir>/admin.token` (mode 0600) and returns it so that the caller can print it once.
 * Returns undefined when an admin token already exists, or another server created it first.
 */
export async function bootstrapAdminToken(tokens: TokenRepository, dataDir: string): Promise<string | undefined> {
  if ((await tokens.countByRole('admin')) > 0) return undefined;
  let token: string;
  try {
    ({ token } = await tokens.create({ id: BOOTSTRAP_ADMIN_ID, name: 'bootstrap admin', role: 'admin' }));
  } catch (error) {
    if (isUniqueViolation(error)) return undefined;
    throw error;
  }
  writeAdminToken(dataDir, token);
  return token;
}
