import type { NodeStatus } from '../contracts/nodes.js';

/** A node is online while its last heartbeat is younger than the timeout. */
export function nodeStatus(lastHeartbeatAt: number | null, now: number, timeoutMs: number): NodeStatus {
  return lastHeartbeatAt !== null && now - lastHeartbeatAt <= timeoutMs ? 'online' : 'offline';
}
