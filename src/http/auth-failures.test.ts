import { describe, expect, it } from 'vitest';
import { AuthFailureLimits, presentedTokenId } from './auth-failures.js';

const ID_A = '0123456789abcdef';
const bearer = (id: string, secret = 'x'.repeat(43)) => `Bearer fgl.${id}.${secret}`;

describe('AuthFailureLimits', () => {
  it('counts guesses per address and per token id, each against its own limit', () => {
    let clock = 0;
    const limits = new AuthFailureLimits(3, () => clock);
    // Wrong secrets for one id from four addresses: the id goes over, no address does.
    expect(['10.0.0.1', '10.0.0.2', '10.0.0.3'].map((ip) => limits.failed(ip, bearer(ID_A), 'guess'))).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
    expect(limits.failed('10.0.0.4', bearer(ID_A), 'guess')).toBe(60);
    expect(limits.addressLocked('10.0.0.4')).toBeUndefined();
    // Garbage from one address: the address goes over, whatever it presents next.
    for (let i = 0; i < 3; i += 1) expect(limits.failed('10.0.0.9', 'Bearer garbage', 'guess')).toBeUndefined();
    clock = 15_000;
    expect(limits.failed('10.0.0.9', 'Bearer garbage', 'guess')).toBe(45);
    expect(limits.addressLocked('10.0.0.9')).toBe(45);
    expect(limits.failed('10.0.0.9', bearer('fedcba9876543210'), 'guess')).toBe(45);
    // The minute ends: both are free again.
    clock = 75_000;
    expect(limits.addressLocked('10.0.0.9')).toBeUndefined();
    expect(limits.failed('10.0.0.4', bearer(ID_A), 'guess')).toBeUndefined();
  });

  it('counts a revoked or expired credential against its id only, never its address', () => {
    const limits = new AuthFailureLimits(2, () => 0);
    for (let i = 0; i < 2; i += 1) expect(limits.failed('10.0.0.1', bearer(ID_A), 'dead')).toBeUndefined();
    expect(limits.failed('10.0.0.1', bearer(ID_A), 'dead')).toBe(60);
    expect(limits.addressLocked('10.0.0.1')).toBeUndefined();
    expect(limits.failed('10.0.0.1', bearer('fedcba9876543210'), 'guess')).toBeUndefined();
  });

  it('is off with a limit of 0', () => {
    const limits = new AuthFailureLimits(0);
    for (let i = 0; i < 100; i += 1) expect(limits.failed('10.0.0.1', bearer(ID_A), 'guess')).toBeUndefined();
    expect(limits.addressLocked('10.0.0.1')).toBeUndefined();
  });

  it('reads the token id only from a well-formed bearer token', () => {
    expect(presentedTokenId(bearer(ID_A))).toBe(ID_A);
    for (const header of [undefined, '', 'Basic abc', 'Bearer fgl.short.x', `Bearer fgl.${ID_A}.short`]) {
      expect(presentedTokenId(header)).toBeUndefined();
    }
  });
});
