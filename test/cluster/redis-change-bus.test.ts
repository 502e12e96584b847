import { Redis } from 'ioredis';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ChangeEvent } from '../../src/cluster/change-event.js';
import { RedisChangeBus } from '../../src/cluster/redis-change-bus.js';
import { ChangeSignal } from '../../src/deployments/change-signal.js';
import { eventually } from '../support/processes.js';
import { assertRedisReachable, PrivateRedis, testChannel, testRedisUrl } from '../support/redis.js';

/** A replica's change signal on `channel`, with what it heard and logged. */
function replica(url: string, channel: string) {
  const changes = new ChangeSignal(new RedisChangeBus(url, channel));
  const heard: ChangeEvent[] = [];
  const logged: string[] = [];
  changes.subscribe((event) => heard.push(event));
  changes.start({ info: (message) => logged.push(`info ${message}`), warn: (message) => logged.push(`warn ${message}`) });
  return { changes, heard, logged };
}

const opened: ChangeSignal[] = [];
afterEach(() => {
  for (const changes of opened.splice(0)) changes.close();
});

function open(url: string, channel: string) {
  const made = replica(url, channel);
  opened.push(made.changes);
  return made;
}

describe('change events over Redis', () => {
  beforeAll(async () => {
    await assertRedisReachable();
  });

  it("delivers one replica's events to another within 100 ms, and never back to the sender", async () => {
    const channel = testChannel();
    const a = open(testRedisUrl(), channel);
    const b = open(testRedisUrl(), channel);
    await eventually(async () => (a.changes.complete && b.changes.complete) || undefined, 5000, 20);
    const latencies: number[] = [];
    for (let i = 1; i <= 50; i++) {
      const event: ChangeEvent = { kind: 'alias-moved', model: 'energy', alias: 'champion', version: i };
      const woken = b.changes.next(5000);
      const sent = performance.now();
      a.changes.publish(event);
      await woken;
      latencies.push(performance.now() - sent);
      expect(b.heard.at(-1)).toEqual(event);
    }
    latencies.sort((x, y) => x - y);
    console.log(
      `Redis change delivery over 50 events: median ${latencies[25]!.toFixed(2)} ms, p95 ${latencies[47]!.toFixed(2)} ms, max ${latencies[49]!.toFixed(2)} ms`,
    );
    expect(latencies[49]).toBeLessThan(100);
    // Only the first connection counts as a resync; A heard each of its own events once.
    expect(a.heard.filter((e) => e.kind === 'alias-moved')).toHaveLength(50);
    expect(b.heard.filter((e) => e.kind === 'alias-moved')).toHaveLength(50);
  });

  it('ignores what is not a change event on its channel', async () => {
    const channel = testChannel();
    const b = open(testRedisUrl(), channel);
    await eventually(async () => b.changes.complete || undefined, 5000, 20);
    const stranger = new Redis(testRedisUrl());
    try {
      await stranger.publish(channel, 'not json');
      await stranger.publish(channel, JSON.stringify({ origin: 'x', event: { kind: 'drop-tables' } }));
      await stranger.publish(channel, JSON.stringify({ origin: 'x', event: { kind: 'node-deleted', nodeId: 'n1' } }));
      await eventually(async () => b.heard.some((e) => e.kind === 'node-deleted') || undefined, 2000, 10);
      expect(b.heard.filter((e) => e.kind !== 'resync')).toEqual([{ kind: 'node-deleted', nodeId: 'n1' }]);
    } finally {
      stranger.disconnect();
    }
  });

  it('keeps working on its own events while Redis is away, says so once, and starts caches afresh when it is back', async () => {
    const redis = await PrivateRedis.create();
    try {
      const channel = testChannel();
      const a = open(redis.url, channel);
      const b = open(redis.url, channel);
      await eventually(async () => (a.changes.complete && b.changes.complete) || undefined, 5000, 20);

      await redis.stop();
      await eventually(async () => (!b.changes.complete && !a.changes.complete) || undefined, 5000, 20);
      // Its own events still reach its own listeners and long polls, at once.
      const ownWake = a.changes.next(5000);
      const started = Date.now();
      a.changes.publish({ kind: 'deployment-changed', deployment: 'energy', change: 'created' });
      await ownWake;
      expect(Date.now() - started).toBeLessThan(100);
      expect(a.heard.at(-1)).toMatchObject({ kind: 'deployment-changed' });
      // The other replica's long polls still answer on their own tick.
      const tickStarted = Date.now();
      await b.changes.next(300);
      expect(Date.now() - tickStarted).toBeGreaterThanOrEqual(250);
      // Several reconnection attempts later, still one warning each.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const warnings = b.logged.filter((line) => line.startsWith('warn'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/Redis is away/);

      await redis.start();
      await eventually(async () => (a.changes.complete && b.changes.complete) || undefined, 10_000, 20);
      expect(b.heard.at(-1)).toEqual({ kind: 'resync' });
      expect(b.logged.at(-1)).toMatch(/^info change events: Redis reconnected/);
      a.changes.publish({ kind: 'node-deleted', nodeId: 'n1' });
      await eventually(async () => b.heard.some((e) => e.kind === 'node-deleted') || undefined, 2000, 10);
    } finally {
      await redis.close();
    }
  });
});
