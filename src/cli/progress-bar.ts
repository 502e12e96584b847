/**
 * A one-line progress bar on stderr: redrawn in place on a terminal, printed at most every few
 * seconds otherwise (CI logs), so that scripts reading stdout are not disturbed.
 */
export class ProgressBar {
  private lastPlainAt = 0;
  private drawn = false;

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly width = 30,
  ) {}

  /** `fraction` from 0 to 1, or undefined when the total is unknown. */
  update(fraction: number | undefined, label: string): void {
    const line =
      fraction === undefined ? label : `${bar(fraction, this.width)} ${String(Math.floor(fraction * 100)).padStart(3)}%  ${label}`;
    if (this.stream.isTTY) {
      const columns = this.stream.columns ?? 100;
      this.stream.write(`\r${line.slice(0, columns - 1).padEnd(Math.min(columns - 1, line.length + 10))}`);
      this.drawn = true;
    } else if (Date.now() - this.lastPlainAt > 3000) {
      this.lastPlainAt = Date.now();
      this.stream.write(`${line}\n`);
    }
  }

  done(message?: string): void {
    if (this.drawn) this.stream.write('\n');
    this.drawn = false;
    if (message) this.stream.write(`${message}\n`);
  }
}

function bar(fraction: number, width: number): string {
  const clamped = Math.max(0, Math.min(1, fraction));
  const filled = Math.round(clamped * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

/** "1:05" or "12s": a duration for ETAs. */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}
