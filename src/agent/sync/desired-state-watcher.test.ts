import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import type { DesiredState } from '../../contracts/deployments.js';
import { type DesiredStateSource, DesiredStateWatcher } from './desired-state-watcher.js';

const log = Fastify({ logger: false }).log;

/** The control plane's long poll in memory: answers when the revision differs, else when `publish` is called. */
class LongPollSource implements DesiredStateSource {
  state: DesiredState = { revision: 'r1', deployments: [] };
  down = false;
  readonly asked: (string | undefined)[] = [];
  private waiters: (() => void)[] = [];

  async desiredState(revision: string | undefined, _waitSeconds: number, signal: AbortSignal): Promise<DesiredState> {
    this.asked.push(revision);
    if (this.down) throw new Error('connect ECONNREFUSED');
    if (revision === this.state.revision) {
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
    }
    if (this.down) throw new Error('socket hang up');
    return this.state;
  }

  publish(revision: string): void {
    this.state = { revision, deployments: [] };
    this.waiters.splice(0).forEach((wake) => wake());
  }
}

describe('DesiredStateWatcher', () => {
  it('gets each change in one round trip, and resyncs without a revision after a break', async () => {
    const source = new LongPollSource();
    const seen: [string, boolean][] = [];
    let reconnects = 0;
    const watcher = new DesiredStateWatcher(
      source,
      (s, changed) => seen.push([s.revision, changed]),
      () => reconnects++,
      log,
    );
    watcher.start();
    await waitFor(() => seen.length === 1);
    const published = Date.now();
    source.publish('r2');
    await waitFor(() => seen.length === 2);
    expect(Date.now() - published).toBeLessThan(100);

    source.down = true;
    source.publish('r2');
    await waitFor(() => watcher.failures >= 1);
    source.down = false;
    await waitFor(() => reconnects === 1, 5000);
    await watcher.stop();
    expect(seen.slice(0, 2)).toEqual([
      ['r1', true],
      ['r2', true],
    ]);
    expect(seen.at(-1)).toEqual(['r2', false]);
    expect(source.asked.slice(0, 2)).toEqual([undefined, 'r1']);
    expect(source.asked.at(-1)).toBe('r2');
    expect(source.asked).toContain(undefined);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
