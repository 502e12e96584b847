import { parseToken } from '../auth/token-secret.js';
import { RateLimiter } from './rate-limit.js';

/** What a failed token check was: a guess (malformed, unknown id, wrong secret) or a dead credential (revoked, expired). */
export type FailedCheck = 'guess' | 'dead';

/**
 * Failed token checks, counted per client address and per presented token id, each in its own
 * one-minute window. A check that fails while its address or its token id is over the limit is
 * answered 429 instead of 401, and a request without a token from such an address too. A token
 * that passes is never held up: a valid token from an address behind a noisy NAT still works, and
 * nobody can lock a known token id out by presenting it with wrong secrets. (Secrets are 256
 * random bits: the limits make a guessing or misbehaving client visible and cheap to refuse;
 * they are not what makes guessing hopeless.) A revoked or expired credential proves its holder
 * knows the secret, so it counts against its own id only, never against the address.
 *
 * @example
 * const limits = new AuthFailureLimits(30);
 * const retryAfter = limits.failed(request.ip, request.headers.authorization, 'guess');
 * if (retryAfter !== undefined) throw tooMany(retryAfter);
 */
export class AuthFailureLimits {
  private readonly byAddress: RateLimiter;
  private readonly byToken: RateLimiter;

  constructor(
    readonly limitPerMinute: number,
    now: () => number = Date.now,
  ) {
    this.byAddress = new RateLimiter(limitPerMinute, 10_000, now);
    this.byToken = new RateLimiter(limitPerMinute, 10_000, now);
  }

  /** Seconds to wait when `address` is over its limit (then a request without a valid token gets 429); undefined otherwise. */
  addressLocked(address: string): number | undefined {
    return this.byAddress.exceeded(address) ? this.byAddress.retryAfterSeconds(address) : undefined;
  }

  /**
   * Counts one failed check of the token in `authorization` from `address`; returns the seconds to
   * wait when the request must get 429 (its address or token id is over the limit), undefined
   * when it gets its own 401.
   */
  failed(address: string, authorization: string | undefined, check: FailedCheck): number | undefined {
    const id = presentedTokenId(authorization);
    const addressOver = check === 'guess' ? this.byAddress.count(address) : this.byAddress.exceeded(address);
    const tokenOver = id !== undefined && this.byToken.count(id);
    if (!addressOver && !tokenOver) return undefined;
    return Math.max(addressOver ? this.byAddress.retryAfterSeconds(address) : 0, tokenOver ? this.byToken.retryAfterSeconds(id) : 0);
  }
}

/** The id of a well-formed `Bearer fgl.<id>.<secret>`; undefined for anything else. */
export function presentedTokenId(authorization: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return match ? parseToken(match[1]!)?.id : undefined;
}
