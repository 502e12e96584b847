// Timestamps without a zone (the energy files' `2002-12-31 01:00:00`, NAB's `timestamp`) are read
// as UTC wall-clock time. Calendar features then follow the local clock the data was recorded in,
// and daylight saving shows up as what it is in such files: a repeated hour and a missing hour.
const ISO_LIKE = /^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;
const EPOCH_DIGITS = /^\d{9,14}$/;

/**
 * Parses a timestamp to Unix seconds (millisecond precision), or returns null when it is not one.
 * Accepts `YYYY-MM-DD[ T]HH:MM[:SS[.fff]][Z|±HH:MM]`, `YYYY-MM-DD`, and Unix seconds (9–11 digits)
 * or milliseconds (12–14 digits).
 *
 * @example parseTimestamp('2002-12-31 01:00:00') // 1041296400
 */
export function parseTimestamp(text: string): number | null {
  const trimmed = text.trim();
  if (EPOCH_DIGITS.test(trimmed)) {
    const n = Number(trimmed);
    return trimmed.length <= 11 ? n : Math.round(n) / 1000;
  }
  const m = ISO_LIKE.exec(trimmed);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((part) =>
    part === undefined ? 0 : Number(part),
  ) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return null;
  const millis = m[7] === undefined ? 0 : Math.round(Number(`0.${m[7]}`) * 1000);
  let ms = Date.UTC(year, month - 1, day, hour, minute, second, millis);
  // Date.UTC rolls 2021-02-30 over to March; a calendar date that does not exist is not a timestamp.
  if (new Date(ms).getUTCDate() !== day) return null;
  const zone = m[8];
  if (zone !== undefined && zone.toUpperCase() !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offsetMinutes = Number(digits.slice(0, 2)) * 60 + (digits.length > 2 ? Number(digits.slice(2)) : 0);
    ms -= sign * offsetMinutes * 60_000;
  }
  return ms / 1000;
}

/** Unix seconds → `YYYY-MM-DD HH:MM:SS` (UTC), the same shape the energy files use. */
export function formatTimestamp(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().slice(0, 19).replace('T', ' ');
}
