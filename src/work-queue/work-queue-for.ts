import { DEFAULT_CHANGE_CHANNEL } from '../cluster/redis-change-bus.js';
import { BullMqWorkQueue } from './bullmq-work-queue.js';
import { InProcessWorkQueue } from './in-process-work-queue.js';
import type { WorkQueue } from './work-queue.js';

/**
 * The run queue of an installation: on Redis when it has one (shared by its replicas and
 * workers; the channel name keeps installations on one Redis apart), else in this process.
 */
export function workQueueFor<T>(redisUrl: string | undefined, channel = DEFAULT_CHANGE_CHANNEL, lostAfterMs = 30_000): WorkQueue<T> {
  return redisUrl
    ? new BullMqWorkQueue<T>(redisUrl, { prefix: `${channel}:queue`, stalledAfterMs: lostAfterMs })
    : new InProcessWorkQueue<T>();
}
