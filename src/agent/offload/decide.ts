import type { OffloadPolicy } from '../../contracts/deployments.js';

/** Where one request runs. */
export type RanOn = 'edge' | 'cloud';

/** Why it runs there (a bounded set: it is a metric label). */
export type OffloadReason =
  /** edge-only: never offloaded. */
  | 'edge-only'
  /** cloud-only: always offloaded while the cloud answers. */
  | 'cloud-only'
  /** auto: the node's expected latency is within the target. */
  | 'within-target'
  /** auto: the queue's expected wait is past the latency target. */
  | 'queue'
  /** auto: the node's CPU is oversubscribed. */
  | 'cpu'
  /** auto: the node's event loop is saturated (requests queue before they reach the model). */
  | 'busy'
  /** auto: the node is short of memory. */
  | 'memory'
  /** auto: the predictor is not loaded or failed lately (crashed worker). */
  | 'unhealthy'
  /** The cloud was tried and failed (unreachable, timed out, 5xx): run on the node. */
  | 'cloud-error'
  /** Joint inference: the node's model answered first, and rows its hard-example rule found hard went to the cloud model. */
  | 'hard-example';

/** What the node measures at the moment a request arrives. */
export interface OffloadInputs {
  policy: OffloadPolicy;
  latencyTargetMs: number;
  /** Requests waiting in the micro-batcher for a batch (not counting the batch running now). */
  waiting: number;
  /** Whether a batch is running now. */
  busy: boolean;
  /** Recent time per batch on this node, ms; undefined before the first batch. */
  batchMs: number | undefined;
  maxBatchSize: number;
  /** 1-minute load average divided by the CPU count. */
  cpuLoadPerCore: number;
  /**
   * Share of the last moments the agent's event loop was busy (0–1). Near 1, requests wait in the
   * socket buffers before they are even parsed, where the micro-batcher's queue cannot see them.
   */
  eventLoopUtilization: number;
  /** Memory a new process can get (MemAvailable), bytes. */
  memoryFreeBytes: number;
  memoryTotalBytes: number;
  /** False when the model is not loaded here or failed on the server side lately. */
  predictorHealthy: boolean;
  /** False while the circuit breaker holds the cloud off. */
  cloudAvailable: boolean;
  /** Recent latency of offloaded requests, ms; undefined before the first. */
  cloudLatencyMs: number | undefined;
}

export interface OffloadThresholds {
  /** auto offloads when the 1-minute load per core is at least this (default 2: twice oversubscribed). */
  cpuLoadPerCore: number;
  /** auto offloads when the free share of memory is under this (default 0.05). */
  memoryFreeShare: number;
  /** auto offloads while the event loop is busy at least this share of the time (default 0.9). */
  eventLoopUtilization: number;
}

export const DEFAULT_THRESHOLDS: OffloadThresholds = { cpuLoadPerCore: 2, memoryFreeShare: 0.05, eventLoopUtilization: 0.9 };

export interface OffloadDecision {
  target: RanOn;
  reason: OffloadReason;
  /** auto: the latency the node expected for this request here (queue + its own batch), ms. */
  expectedLocalMs?: number;
  /** The policy wanted the cloud but the circuit breaker holds it off: the request falls back to the node. */
  fallback: boolean;
}

/**
 * The wait a request arriving now can expect on the node: the batch running now (if any), the
 * batches ahead of it in the queue, and its own batch. Before the first batch nothing is known: 0.
 */
export function expectedLocalMs(inputs: Pick<OffloadInputs, 'waiting' | 'busy' | 'batchMs' | 'maxBatchSize'>): number {
  if (inputs.batchMs === undefined) return 0;
  const batchesAhead = Math.floor(inputs.waiting / Math.max(1, inputs.maxBatchSize));
  return ((inputs.busy ? 1 : 0) + batchesAhead + 1) * inputs.batchMs;
}

/**
 * Where a request should run, from the deployment's policy and what the node measures now.
 * Pure: no clock, no I/O. The caller still runs on the node when an offloaded request fails.
 *
 * - edge-only: always the node.
 * - cloud-only: the cloud.
 * - auto: the cloud when the predictor is unhealthy, memory or CPU are short, the agent's event
 *   loop is saturated (its backlog is in the sockets, unparsed), or the expected wait
 *   in the queue is past the latency target and the cloud has not been slower than that lately;
 *   otherwise the node.
 *
 * Whatever the policy, while the circuit breaker holds the cloud off, a request that would have
 * gone there runs on the node (`fallback`).
 */
export function decideOffload(inputs: OffloadInputs, thresholds: OffloadThresholds = DEFAULT_THRESHOLDS): OffloadDecision {
  const wanted = wantedTarget(inputs, thresholds);
  if (wanted.target === 'cloud' && !inputs.cloudAvailable) return { ...wanted, target: 'edge', fallback: true };
  return wanted;
}

function wantedTarget(inputs: OffloadInputs, thresholds: OffloadThresholds): OffloadDecision {
  const edge = (reason: OffloadReason, expectedLocalMs?: number): OffloadDecision => ({
    target: 'edge',
    reason,
    fallback: false,
    ...(expectedLocalMs === undefined ? {} : { expectedLocalMs }),
  });
  const cloud = (reason: OffloadReason, expectedLocalMs?: number): OffloadDecision => ({
    target: 'cloud',
    reason,
    fallback: false,
    ...(expectedLocalMs === undefined ? {} : { expectedLocalMs }),
  });
  if (inputs.policy === 'edge-only') return edge('edge-only');
  if (inputs.policy === 'cloud-only') return cloud('cloud-only');
  if (!inputs.predictorHealthy) return cloud('unhealthy');
  const expected = expectedLocalMs(inputs);
  if (inputs.memoryTotalBytes > 0 && inputs.memoryFreeBytes / inputs.memoryTotalBytes < thresholds.memoryFreeShare)
    return cloud('memory', expected);
  if (inputs.cpuLoadPerCore >= thresholds.cpuLoadPerCore) return cloud('cpu', expected);
  if (inputs.eventLoopUtilization >= thresholds.eventLoopUtilization) return cloud('busy', expected);
  // Past the target, the cloud is worth it unless it has lately been slower than waiting here.
  if (expected > inputs.latencyTargetMs && (inputs.cloudLatencyMs === undefined || inputs.cloudLatencyMs < expected))
    return cloud('queue', expected);
  return edge('within-target', expected);
}
