import { randomUUID } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import type { ChangeBus, ChangeBusListener } from './change-bus.js';
import { asChangeEvent, type ChangeEvent } from './change-event.js';

/** The channel the replicas of one control plane share (one Redis may serve several: give each its own). */
export const DEFAULT_CHANGE_CHANNEL = 'fogline:changes';
/** Reconnection waits double from this, up to MAX_RETRY_MS: a Redis that is away is not hammered. */
const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 2000;

interface Envelope {
  /** The bus that sent it: its own messages come back on its subscription and are dropped. */
  origin: string;
  event: ChangeEvent;
}

/**
 * Change events over Redis pub/sub: one connection publishes, one subscribes (a subscribed
 * connection can do nothing else). Both reconnect on their own with backoff; while the
 * subscription is down the replica works on its own events and says so once (`listener.state`).
 */
export class RedisChangeBus implements ChangeBus {
  private readonly origin = randomUUID();
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private listener: ChangeBusListener | undefined;
  private subscribed = false;
  private closed = false;
  /** Undefined until the first connection succeeds or fails. */
  private state: 'up' | 'down' | undefined;

  constructor(
    url: string,
    private readonly channel = DEFAULT_CHANGE_CHANNEL,
  ) {
    const common: RedisOptions = {
      retryStrategy: (times) => Math.min(FIRST_RETRY_MS * 2 ** Math.min(times - 1, 10), MAX_RETRY_MS),
      connectionName: `fogline-changes-${this.origin.slice(0, 8)}`,
    };
    // Publishing while Redis is away fails at once instead of queueing stale events for later.
    this.publisher = new Redis(url, { ...common, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    // The subscription waits for Redis however long it takes, and is renewed on every reconnection.
    this.subscriber = new Redis(url, { ...common, maxRetriesPerRequest: null, autoResubscribe: true });
    // Errors are reported through state(): without a listener ioredis would print each retry's.
    this.publisher.on('error', () => undefined);
    this.subscriber.on('error', (error: Error) => this.setState('down', error.message));
    this.subscriber.on('close', () => this.setState('down', 'connection closed'));
    this.subscriber.on('ready', () => {
      // On reconnection ioredis subscribes again before it says ready.
      if (this.subscribed) this.setState('up', 'reconnected');
    });
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.receive(message);
    });
    this.subscriber
      .subscribe(this.channel)
      .then(() => {
        this.subscribed = true;
        this.setState('up', 'subscribed');
      })
      .catch((error: Error) => this.setState('down', error.message));
  }

  listen(listener: ChangeBusListener): void {
    this.listener = listener;
  }

  publish(event: ChangeEvent): void {
    if (this.closed) return;
    const envelope: Envelope = { origin: this.origin, event };
    // Best effort: while Redis is away the other replicas fall back to their short ticks and TTLs.
    this.publisher.publish(this.channel, JSON.stringify(envelope)).catch(() => undefined);
  }

  get up(): boolean {
    return this.state === 'up';
  }

  close(): void {
    this.closed = true;
    this.state = 'down';
    this.publisher.disconnect();
    this.subscriber.disconnect();
  }

  private receive(message: string): void {
    let envelope: Partial<Envelope> | undefined;
    try {
      envelope = JSON.parse(message) as Partial<Envelope>;
    } catch {
      return;
    }
    if (!envelope || envelope.origin === this.origin) return;
    // Anything else on the channel (another version's event, a stray PUBLISH) is not ours to act on.
    const event = asChangeEvent(envelope.event);
    if (event) this.listener?.event(event);
  }

  private setState(state: 'up' | 'down', detail: string): void {
    if (this.closed || this.state === state) return;
    this.state = state;
    this.listener?.state(state, detail);
  }
}

/**
 * A bus for `fogline server --redis <url>`: Redis pub/sub, or none without a URL (one replica:
 * its events stay in-process). Connects in the background: a Redis that is away does not keep the
 * server from starting.
 */
export function changeBusFor(redisUrl: string | undefined, channel = DEFAULT_CHANGE_CHANNEL): ChangeBus | undefined {
  return redisUrl ? new RedisChangeBus(redisUrl, channel) : undefined;
}
