const DAY = 86_400;
const WEEK = 7 * DAY;
const YEAR = 365.2425 * DAY;
// 1970-01-01 was a Thursday; shifting by 4 days puts Sunday 00:00 at phase 0 of the week cycle.
const WEEK_OFFSET = 4 * DAY;

/** Number of calendar features per time stamp. */
export const CALENDAR_FEATURES = 6;

/**
 * Cyclical calendar features of a Unix time (seconds, wall clock as UTC): sin/cos of the time of
 * day, of the day of the week and of the time of year. Cycles as sin/cos pairs keep 23:00 next to
 * 00:00 and Sunday next to Monday. No holiday calendar: the data's region is not known.
 */
export function writeCalendarFeatures(unixSeconds: number, out: Float32Array, offset: number): void {
  const day = (((unixSeconds % DAY) + DAY) % DAY) / DAY;
  const week = ((((unixSeconds + WEEK_OFFSET) % WEEK) + WEEK) % WEEK) / WEEK;
  const year = (((unixSeconds % YEAR) + YEAR) % YEAR) / YEAR;
  out[offset] = Math.sin(2 * Math.PI * day);
  out[offset + 1] = Math.cos(2 * Math.PI * day);
  out[offset + 2] = Math.sin(2 * Math.PI * week);
  out[offset + 3] = Math.cos(2 * Math.PI * week);
  out[offset + 4] = Math.sin(2 * Math.PI * year);
  out[offset + 5] = Math.cos(2 * Math.PI * year);
}
