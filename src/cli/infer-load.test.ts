import { describe, expect, it } from 'vitest';
import type { V2InferResponse } from '../contracts/open-inference.js';
import { formatLoadSummary, runInferLoad, ShedError } from './infer-load.js';

const answer = (ranOn: string, reason: string): V2InferResponse => ({
  model_name: 'energy',
  outputs: [],
  parameters: { 'fogline.ran_on': ranOn, 'fogline.offload_reason': reason },
});

describe('runInferLoad', () => {
  it('keeps at most `concurrency` requests in flight and counts every answer and failure', async () => {
    let inFlight = 0;
    let most = 0;
    let n = 0;
    const summary = await runInferLoad({
      repeat: 50,
      concurrency: 4,
      durationMs: 60_000,
      send: async () => {
        const i = n++;
        inFlight += 1;
        most = Math.max(most, inFlight);
        await new Promise((resolve) => setImmediate(resolve));
        inFlight -= 1;
        if (i % 10 === 9) throw new Error('HTTP 503: busy');
        return i % 2 === 0 ? answer('edge', 'within-target') : answer('cloud', 'queue');
      },
    });
    expect(most).toBe(4);
    expect(summary).toMatchObject({ sent: 50, answered: 45, failed: 5, stopped: 'done', failures: { 'HTTP 503: busy': 5 } });
    expect(summary.ranOn).toEqual({ edge: 25, cloud: 20 });
    expect(summary.offloadReasons).toEqual({ 'within-target': 25, queue: 20 });
    const lines = formatLoadSummary(summary, 'energy on edge-1');
    expect(lines[0]).toMatch(/^50 requests to energy on edge-1, 4 at a time, in [\d.]+ s: 45 answered, 5 failed/);
    expect(lines.slice(2)).toEqual([
      'ran on: edge 25 (55.6%), cloud 20 (44.4%)',
      'offload reasons: within-target 25 (55.6%), queue 20 (44.4%)',
      'failed 5×: HTTP 503: busy',
    ]);
  });

  it('counts requests shed with 429 apart from failures: not run, not failed', async () => {
    let n = 0;
    const summary = await runInferLoad({
      repeat: 20,
      concurrency: 2,
      durationMs: 60_000,
      send: async () => {
        const i = n++;
        if (i % 4 === 3) throw new ShedError('HTTP 429: "energy" is overloaded');
        return answer('edge', 'within-target');
      },
    });
    expect(summary).toMatchObject({ sent: 20, answered: 15, shed: 5, failed: 0, failures: {} });
    expect(formatLoadSummary(summary, 'energy on edge-1')[0]).toMatch(/: 15 answered, 5 shed \(429\), 0 failed/);
  });

  it('stops sending when interrupted, and says how many of the requests went out', async () => {
    const interrupt = new AbortController();
    const summary = await runInferLoad({
      repeat: 1000,
      concurrency: 2,
      durationMs: 60_000,
      signal: interrupt.signal,
      send: async () => answer('edge', 'edge-only'),
      onProgress: (s) => {
        if (s.answered === 10) interrupt.abort();
      },
    });
    expect(summary.stopped).toBe('interrupted');
    expect(summary.sent).toBeLessThanOrEqual(11);
    expect(summary.answered + summary.failed).toBe(summary.sent);
    expect(formatLoadSummary(summary, 'energy on edge-1')[1]).toBe(`interrupted: ${summary.sent} of 1000 sent`);
  });
});
