import { format } from 'node:util';
export { formatBytes } from './format-bytes.js';

/**
 * Control characters (C0 but tab and newline, DEL, C1) and bidirectional overrides: what a node
 * could put in a string it reports (its OS, host name, a status reason, an error message) to move
 * the cursor, clear the screen, retitle the window or reorder the text of an operator's terminal.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE_FOR_TERMINALS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** `text` without control characters and bidirectional overrides (tabs and newlines stay). */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE_FOR_TERMINALS, '');
}

/**
 * Makes everything the CLI prints through the console terminal-safe, once for every command:
 * node-supplied strings reach tables, details, JSON and error lines by many paths, and none of them
 * may drive the operator's terminal. Called by main(); the progress bar writes to its stream itself.
 */
let installed = false;
export function installTerminalSafeConsole(): void {
  if (installed) return;
  installed = true;
  for (const name of ['log', 'error', 'warn', 'info'] as const) {
    const print = console[name].bind(console);
    console[name] = (...args: unknown[]) => print(terminalSafe(format(...args)));
  }
}

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
