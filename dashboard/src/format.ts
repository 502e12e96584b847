import { formatBytes } from '../../src/cli/format-bytes.js';

/** 1536 → "1.5 KiB": the CLI's format, with a space. */
export function bytes(value: number): string {
  return formatBytes(value, ' ');
}

export function ago(iso: string | null, now = Date.now()): string {
  if (!iso) return 'never';
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)}m ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)}h ago`;
  return `${Math.round(seconds / 86400)}d ago`;
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function num(value: unknown, digits = 2): string {
  return typeof value === 'number' && Number.isFinite(value) ? value.toFixed(digits) : '–';
}

export function time(iso: string | null): string {
  return iso ? new Date(iso).toLocaleString() : '–';
}

/** "Queue (redis): 2 waiting, oldest 35.0 s · 1 running · 0 delayed"; `oldestWaitingSeconds` as of now. */
export function queueSummary(
  queue: { kind: string; waiting: number; active: number; delayed: number },
  oldestWaitingSeconds: number,
): string {
  const oldest = queue.waiting > 0 ? `, oldest ${duration(oldestWaitingSeconds * 1000)}` : '';
  return `Queue (${queue.kind}): ${queue.waiting} waiting${oldest} · ${queue.active} running · ${queue.delayed} delayed`;
}

/** "w2", "w2 (attempt 2)" after another worker was lost, "–" before a worker took the run. */
export function workerText(run: { worker: string | null; attempt: number }): string {
  if (run.worker === null) return '–';
  return run.attempt > 1 ? `${run.worker} (attempt ${run.attempt})` : run.worker;
}
