import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateToken, hashSecret, parseToken, secretMatches } from './token-secret.js';

describe('token secrets', () => {
  it('parses the tokens it generates and matches only their own secret', () => {
    const a = generateToken();
    const b = generateToken();
    expect(parseToken(a.token)).toEqual({ id: a.id, secret: a.secret });
    expect(secretMatches(a.secret, hashSecret(a.secret))).toBe(true);
    expect(secretMatches(b.secret, hashSecret(a.secret))).toBe(false);
    expect(a.id).not.toBe(b.id);
  });

  it('never stores or hashes to the plain secret', () => {
    const { secret } = generateToken();
    expect(hashSecret(secret)).not.toContain(secret);
    expect(hashSecret(secret)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('rejects arbitrary text without throwing', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        const parts = parseToken(text);
        if (parts) expect(text).toBe(`fgl.${parts.id}.${parts.secret}`);
      }),
    );
  });

  it('does not match any other secret, nor a malformed stored hash', () => {
    const { secret } = generateToken();
    const stored = hashSecret(secret);
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (other) => {
        fc.pre(other !== secret);
        expect(secretMatches(other, stored)).toBe(false);
      }),
    );
    expect(secretMatches(secret, 'abc')).toBe(false);
  });
});
