import type { ByteRange } from './artifact-store.js';

/** A satisfiable single range, with both ends (inclusive) resolved against the artifact's size. */
export type ResolvedRange = Required<ByteRange>;

/**
 * Reads an HTTP Range header for an artifact of `size` bytes: `bytes=N-`, `bytes=N-M` or
 * `bytes=-N` (the last N bytes). Undefined when there is no header (the whole artifact);
 * 'unsatisfiable' when the range lies outside the artifact (HTTP 416); 'unsupported' for anything
 * else (several ranges, other units), which a server may answer with the whole artifact.
 */
export function parseByteRange(header: string | undefined, size: number): ResolvedRange | 'unsatisfiable' | 'unsupported' | undefined {
  if (header === undefined) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return 'unsupported';
  const [, first = '', last = ''] = match;
  if (first === '') {
    // A suffix: the last N bytes (all of them when N is at least the size).
    const length = Number(last);
    if (length === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - length), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}
