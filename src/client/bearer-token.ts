/**
 * A bearer token, or where to read it each time: a node's credential changes while its agent runs
 * (credential rotation), so long-lived parts hold `() => credentials.current()` rather than the string.
 */
export type BearerToken = string | (() => string);

export function bearerValue(token: BearerToken): string {
  return typeof token === 'function' ? token() : token;
}
