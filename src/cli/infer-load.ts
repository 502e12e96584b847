import { performance } from 'node:perf_hooks';
import type { V2InferResponse } from '../contracts/open-inference.js';
import { postV2Infer } from '../inference/v2-client.js';

/** The most requests, requests in flight and seconds one `fogline predict --repeat` may use. */
export const LOAD_LIMITS = { repeat: 100_000, concurrency: 256, durationSeconds: 600 } as const;

export interface InferLoadOptions {
  /** Sends the request once; resolves with the answer or throws (its message is counted as a failure). */
  send: () => Promise<V2InferResponse>;
  repeat: number;
  concurrency: number;
  /** No request is sent after this many ms; requests in flight then still finish. */
  durationMs: number;
  /** Aborting stops sending (Ctrl-C); what was answered is still summarised. */
  signal?: AbortSignal;
  /** Called after every answer or failure, with the counts so far (latency is summarised at the end). */
  onProgress?: (summary: Readonly<InferLoadSummary>) => void;
}

export interface InferLoadSummary {
  repeat: number;
  concurrency: number;
  sent: number;
  answered: number;
  /** Refused at once with 429 by an overloaded node (auto offloading sheds the excess): not run, not failed. */
  shed: number;
  failed: number;
  elapsedMs: number;
  /** Of answered requests, from send to answer; null before the first answer. */
  latencyMs: { p50: number; p99: number; max: number } | null;
  /** Answered requests by the answer's `fogline.ran_on` (edge, cloud; `unknown` when it does not say). */
  ranOn: Record<string, number>;
  /** Answered requests by the answer's `fogline.offload_reason`, where it has one. */
  offloadReasons: Record<string, number>;
  /** Failed requests by what went wrong. */
  failures: Record<string, number>;
  /** Why sending stopped: every request sent, the duration ran out, or interrupted. */
  stopped: 'done' | 'duration' | 'interrupted';
}

/**
 * Sends one request `repeat` times, at most `concurrency` in flight, for at most `durationMs`, and
 * counts what came back: latency percentiles, where each answer ran and why.
 *
 * @example
 * const summary = await runInferLoad({ send: () => postInfer(url, body, 10_000), repeat: 2000, concurrency: 64, durationMs: 60_000 });
 * console.log(formatLoadSummary(summary).join('\n'));
 */
export async function runInferLoad(options: InferLoadOptions): Promise<InferLoadSummary> {
  const started = performance.now();
  const deadline = started + options.durationMs;
  const latencies: number[] = [];
  const summary: InferLoadSummary = {
    repeat: options.repeat,
    concurrency: options.concurrency,
    sent: 0,
    answered: 0,
    shed: 0,
    failed: 0,
    elapsedMs: 0,
    latencyMs: null,
    ranOn: {},
    offloadReasons: {},
    failures: {},
    stopped: 'done',
  };
  const worker = async () => {
    for (;;) {
      if (summary.sent >= options.repeat) return;
      if (options.signal?.aborted) {
        summary.stopped = 'interrupted';
        return;
      }
      if (performance.now() >= deadline) {
        if (summary.stopped === 'done') summary.stopped = 'duration';
        return;
      }
      summary.sent += 1;
      const sentAt = performance.now();
      try {
        const answer = await options.send();
        latencies.push(performance.now() - sentAt);
        summary.answered += 1;
        const ranOn = answer.parameters?.['fogline.ran_on'];
        count(summary.ranOn, typeof ranOn === 'string' ? ranOn : 'unknown');
        const reason = answer.parameters?.['fogline.offload_reason'];
        if (typeof reason === 'string') count(summary.offloadReasons, reason);
      } catch (error) {
        if (error instanceof ShedError) summary.shed += 1;
        else {
          summary.failed += 1;
          count(summary.failures, (error as Error).message.slice(0, 200));
        }
      }
      if (options.onProgress) {
        summary.elapsedMs = performance.now() - started;
        options.onProgress(summary);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency, options.repeat)) }, worker));
  summary.elapsedMs = performance.now() - started;
  summary.latencyMs = percentiles(latencies);
  return summary;
}

/** The summary as lines for a terminal: counts, latency, where requests ran and why, failures. */
export function formatLoadSummary(summary: InferLoadSummary, target: string): string[] {
  const seconds = summary.elapsedMs / 1000;
  const lines = [
    `${summary.sent} requests to ${target}, ${summary.concurrency} at a time, in ${seconds.toFixed(1)} s: ` +
      `${summary.answered} answered, ${summary.shed > 0 ? `${summary.shed} shed (429), ` : ''}${summary.failed} failed (${Math.round(summary.answered / Math.max(seconds, 0.001))} answers/s)`,
  ];
  if (summary.stopped === 'duration') lines.push(`stopped sending at --duration: ${summary.sent} of ${summary.repeat} sent`);
  if (summary.stopped === 'interrupted') lines.push(`interrupted: ${summary.sent} of ${summary.repeat} sent`);
  if (summary.latencyMs) {
    const { p50, p99, max } = summary.latencyMs;
    lines.push(`latency: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${max.toFixed(1)} ms`);
  }
  if (summary.answered > 0) {
    lines.push(`ran on: ${shares(summary.ranOn, summary.answered)}`);
    if (Object.keys(summary.offloadReasons).length > 0) lines.push(`offload reasons: ${shares(summary.offloadReasons, summary.answered)}`);
  }
  for (const [message, n] of sorted(summary.failures)) lines.push(`failed ${n}×: ${message}`);
  return lines;
}

/** The node refused a request at once with 429: overloaded (auto offloading sheds what neither side can answer in time). */
export class ShedError extends Error {}

/** POSTs a V2 infer request (postV2Infer, as agents offload); throws with the V2 error (ShedError for a 429), or says it timed out. */
export async function postInfer(url: string, body: string, timeoutMs: number, token?: string): Promise<V2InferResponse> {
  const result = await postV2Infer(url, body, timeoutMs, token);
  if (result.kind === 'answer' && result.status === 429)
    throw new ShedError(`HTTP 429: ${String((result.body as { error?: unknown } | null)?.error ?? 'overloaded')}`);
  if (result.kind === 'timeout') throw new Error(`no answer within ${timeoutMs} ms`);
  if (result.kind === 'unreachable') throw new Error(`cannot reach ${new URL(url).host}: ${result.error.code ?? result.error.message}`);
  if (result.kind === 'not-json') throw new Error(`HTTP ${result.status} without JSON`);
  if (result.status !== 200)
    throw new Error(`HTTP ${result.status}: ${String((result.body as { error?: unknown } | null)?.error ?? JSON.stringify(result.body))}`);
  return result.body as V2InferResponse;
}

function count(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

function sorted(counts: Record<string, number>): [string, number][] {
  return Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

function shares(counts: Record<string, number>, total: number): string {
  return sorted(counts)
    .map(([key, n]) => `${key} ${n} (${((100 * n) / total).toFixed(1)}%)`)
    .join(', ');
}

/** Nearest-rank percentiles. */
function percentiles(values: number[]): InferLoadSummary['latencyMs'] {
  if (values.length === 0) return null;
  const ordered = [...values].sort((a, b) => a - b);
  const rank = (p: number) => ordered[Math.min(ordered.length - 1, Math.max(0, Math.ceil(p * ordered.length) - 1))] as number;
  return { p50: rank(0.5), p99: rank(0.99), max: ordered[ordered.length - 1] as number };
}
