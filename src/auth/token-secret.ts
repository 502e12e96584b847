import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Tokens read `fgl.<id>.<secret>`: the id finds the row, the secret is checked against its
 * SHA-256 (secrets are 256 random bits, so a slow hash adds nothing) in constant time.
 */
const TOKEN_PATTERN = /^fgl\.([0-9a-f]{16})\.([A-Za-z0-9_-]{43})$/;

export interface TokenParts {
  id: string;
  secret: string;
}

export function newTokenId(): string {
  return randomBytes(8).toString('hex');
}

export function generateToken(id: string = newTokenId()): TokenParts & { token: string } {
  const secret = randomBytes(32).toString('base64url');
  return { id, secret, token: `fgl.${id}.${secret}` };
}

export function parseToken(token: string): TokenParts | undefined {
  const match = TOKEN_PATTERN.exec(token);
  if (!match) return undefined;
  return { id: match[1] as string, secret: match[2] as string };
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function secretMatches(secret: string, storedHash: string): boolean {
  const actual = Buffer.from(hashSecret(secret), 'hex');
  const expected = Buffer.from(storedHash, 'hex');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
