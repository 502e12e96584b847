import { describe, expect, it } from 'vitest';
import { ChangeSignal } from '../deployments/change-signal.js';
import { InProcessChangeHub } from './change-bus.js';
import { asChangeEvent, type ChangeEvent } from './change-event.js';

const ALIAS_MOVED: ChangeEvent = { kind: 'alias-moved', model: 'energy', alias: 'champion', version: 3 };

/** Counts how often a long poll like DesiredStateService.waitForChange wakes before `stop`. */
function countWakes(changes: ChangeSignal, stop: AbortSignal): { wakes: number; done: Promise<void> } {
  const counter = { wakes: 0, done: Promise.resolve() };
  counter.done = (async () => {
    while (!stop.aborted) {
      await changes.next(10_000, stop);
      if (!stop.aborted) counter.wakes += 1;
    }
  })();
  return counter;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('ChangeSignal', () => {
  it('hands an event to its listeners, bumps the generation and wakes long polls', async () => {
    const changes = new ChangeSignal();
    const heard: ChangeEvent[] = [];
    changes.subscribe((event) => heard.push(event));
    const woken = changes.next(10_000);
    changes.publish(ALIAS_MOVED);
    await woken;
    expect(heard).toEqual([ALIAS_MOVED]);
    expect(changes.generation).toBe(1);
  });

  it('keeps notify() for changes without an event of their own', async () => {
    const changes = new ChangeSignal();
    const woken = changes.next(10_000);
    changes.notify();
    await woken;
    expect(changes.generation).toBe(1);
  });

  it("clears caches on node credentials' events without waking long polls or bumping the generation", async () => {
    const changes = new ChangeSignal();
    const heard: string[] = [];
    changes.subscribe((event) => heard.push(event.kind));
    let woke = false;
    void changes.next(10_000).then(() => (woke = true));
    changes.publish({ kind: 'token-revoked', tokenId: 'abc', role: 'node' });
    changes.publish({ kind: 'node-changed', nodeId: 'n1', change: 'credential' });
    await pause(20);
    expect(heard).toEqual(['token-revoked', 'node-changed']);
    expect(changes.generation).toBe(0);
    expect(woke).toBe(false);
    // An inference token's revocation changes what agents accept: it wakes them.
    changes.publish({ kind: 'token-revoked', tokenId: 'def', role: 'inference' });
    await pause(0);
    expect(woke).toBe(true);
    changes.close();
  });

  it('delivers one replica’s events to the others over the bus, never back to itself', async () => {
    const hub = new InProcessChangeHub();
    const a = new ChangeSignal(hub.bus());
    const b = new ChangeSignal(hub.bus());
    const heardA: ChangeEvent[] = [];
    const heardB: ChangeEvent[] = [];
    a.subscribe((event) => heardA.push(event));
    b.subscribe((event) => heardB.push(event));
    const bWoken = b.next(10_000);
    a.publish(ALIAS_MOVED);
    await bWoken;
    expect(heardB).toEqual([ALIAS_MOVED]);
    expect(heardA).toEqual([ALIAS_MOVED]);
    expect(b.generation).toBe(1);
    a.close();
    b.close();
  });

  it('lets the settler (the rollout controller) move first, then wakes each long poll once for the change and the steps it led to', async () => {
    const changes = new ChangeSignal();
    const order: string[] = [];
    let steps = 0;
    changes.settleWith(async () => {
      order.push('settle');
      await pause(20);
      // The first pass stores a rollout step, announced like every other change; the second finds nothing to do.
      if (steps++ === 0) changes.publish({ kind: 'deployment-changed', deployment: 'energy', change: 'rollout' });
    });
    const stop = new AbortController();
    const poll = countWakes(changes, stop.signal);
    void changes.next(10_000).then(() => order.push('wake'));
    changes.publish(ALIAS_MOVED);
    // What else the request did (another caller's notify) joins the same settle.
    changes.notify();
    await pause(200);
    stop.abort();
    await poll.done;
    expect(order).toEqual(['settle', 'settle', 'wake']);
    expect(poll.wakes).toBe(1);
    changes.close();
  });

  it('does not hold long polls longer than half a second behind a settler that hangs', async () => {
    const changes = new ChangeSignal();
    changes.settleWith(() => new Promise(() => undefined));
    const started = Date.now();
    const woken = changes.next(10_000);
    changes.publish(ALIAS_MOVED);
    await woken;
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    expect(Date.now() - started).toBeLessThan(1500);
    changes.close();
  });

  it('answers waiting long polls at once when it closes, and later ones without waiting', async () => {
    const changes = new ChangeSignal();
    const waiting = changes.next(10_000);
    changes.close();
    await waiting;
    const started = Date.now();
    await changes.next(10_000);
    expect(Date.now() - started).toBeLessThan(100);
  });
});

describe('asChangeEvent', () => {
  it('takes well-formed events and refuses anything else on the channel', () => {
    expect(asChangeEvent(ALIAS_MOVED)).toEqual(ALIAS_MOVED);
    expect(asChangeEvent({ kind: 'node-deleted', nodeId: 'n1' })).toEqual({ kind: 'node-deleted', nodeId: 'n1' });
    expect(asChangeEvent({ kind: 'alias-moved', model: 'energy' })).toBeUndefined();
    expect(asChangeEvent({ kind: 'token-revoked', tokenId: 'x', role: 'root' })).toBeUndefined();
    expect(asChangeEvent({ kind: 'drop-tables' })).toBeUndefined();
    expect(asChangeEvent('alias-moved')).toBeUndefined();
    expect(asChangeEvent(null)).toBeUndefined();
  });
});
