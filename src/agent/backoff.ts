/**
 * Delay before the next try after `failures` failures in a row: doubling from `baseMs` up to
 * `maxMs`, each spread by ±50% so that a fleet does not retry in step after an outage.
 */
export function backoffDelay(failures: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const exponential = Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1));
  return Math.round(exponential * (0.5 + random()));
}

/** Spreads a regular interval by ±10%. */
export function jittered(intervalMs: number, random: () => number = Math.random): number {
  return Math.round(intervalMs * (0.9 + 0.2 * random()));
}
