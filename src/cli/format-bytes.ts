// No Node imports: the dashboard's bundle uses this too (dashboard/src/format.ts).

/** 1536 → "1.5KiB" (or "1.5 KiB" with `separator` ' '), binary units up to TiB. */
export function formatBytes(bytes: number, separator = ''): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value >= 10 || unit === 0 ? Math.round(value) : value.toFixed(1)}${separator}${units[unit]}`;
}
