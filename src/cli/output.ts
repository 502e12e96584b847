/** Prints rows as an aligned text table, or as JSON for scripts (`--json`). */
export interface Column<T> {
  header: string;
  value: (row: T) => string;
}

export function formatTable<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((row) => columns.map((column) => column.value(row)));
  const widths = columns.map((column, i) => Math.max(column.header.length, ...cells.map((line) => (line[i] ?? '').length)));
  const render = (line: readonly string[]) =>
    line
      .map((cell, i) => (i === line.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [render(columns.map((column) => column.header)), ...cells.map(render)].join('\n');
}

export function printRows<T>(rows: readonly T[], columns: readonly Column<T>[], json: boolean, empty: string): void {
  if (json) {
    printJson(rows);
  } else if (rows.length === 0) {
    console.log(empty);
  } else {
    console.log(formatTable(rows, columns));
  }
}

export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

/** "12s", "5m", "3h", "2d": how long ago, for tables. */
export function formatAge(seconds: number | null): string {
  if (seconds === null) return '-';
  if (seconds < 60) return `${Math.round(seconds)}s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86400)}d`;
}

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
