import type { OffloadPolicy, OverloadMode } from '../../contracts/deployments.js';
import type { RanOn } from '../../inference/inference-call.js';

/** Why it runs there (a bounded set: it is a metric label). */
export type OffloadReason =
  /** edge-only: never offloaded. */
  | 'edge-only'
  /** cloud-only: always offloaded while the cloud answers. */
  | 'cloud-only'
  /** auto: the node's expected latency is within the target (and no later than the cloud's). */
  | 'within-target'
  /** auto: both are within the target, and the cloud is expected to answer sooner. */
  | 'sooner'
  /** auto: the queue's expected wait is past the latency target. */
  | 'queue'
  /** auto: the node's CPU is oversubscribed. */
  | 'cpu'
  /**
   * auto: the node's compute budget is spent: running one more request here would saturate the
   * agent's event loop, where the requests it forwards wait too (see EdgeBudget).
   */
  | 'busy'
  /** auto: the node is short of memory. */
  | 'memory'
  /** auto: the predictor is not loaded or failed lately (crashed worker). */
  | 'unhealthy'
  /** The cloud was tried and failed (unreachable, timed out, 5xx): run on the node. */
  | 'cloud-error'
  /** Joint inference: the node's model answered first, and rows its hard-example rule found hard went to the cloud model. */
  | 'hard-example'
  /** auto: neither side can answer within the latency target (the node's queue is past it, the cloud is full, slow or away): shed with 429. */
  | 'overload';

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
  /** Memory a new process can get (MemAvailable), bytes. */
  memoryFreeBytes: number;
  memoryTotalBytes: number;
  /** False when the model is not loaded here or failed on the server side lately. */
  predictorHealthy: boolean;
  /** False while the circuit breaker holds the cloud off. */
  cloudAvailable: boolean;
  /**
   * auto: whether the node's compute budget has a place for this request now (EdgeBudget: the
   * rate its event loop can afford beside the requests it forwards).
   */
  edgeHasBudget: boolean;
  /** auto: whether the cloud may take one more request now (fewer outstanding than its adaptive limit). */
  cloudHasRoom: boolean;
  /** auto: expected completion of a request sent to the cloud now (round trip + its reported queue), ms; undefined before the first answer. */
  cloudExpectedMs: number | undefined;
  /** auto: what to do when neither side can answer within the target (default shed). */
  overload?: OverloadMode;
}

export interface OffloadThresholds {
  /** auto offloads when the 1-minute load per core is at least this (default 2: twice oversubscribed). */
  cpuLoadPerCore: number;
  /** auto offloads when the free share of memory is under this (default 0.05). */
  memoryFreeShare: number;
}

export const DEFAULT_THRESHOLDS: OffloadThresholds = { cpuLoadPerCore: 2, memoryFreeShare: 0.05 };

export interface OffloadDecision {
  /** Where it runs, or `shed`: answered 429 at once (auto, overload mode shed). */
  target: RanOn | 'shed';
  reason: OffloadReason;
  /** auto: the latency the node expected for this request here (queue + its own batch), ms. */
  expectedLocalMs?: number;
  /** auto: the latency expected in the cloud, ms, when known. */
  expectedCloudMs?: number;
  /** The policy wanted the cloud but the circuit breaker holds it off: the request falls back to the node. */
  fallback: boolean;
}

/** auto sheds only requests the node expects to finish later than this many times the latency target. */
export const SHED_FACTOR = 2;

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
 * - auto, in order: the cloud when the predictor is unhealthy, memory or CPU are short. Then,
 *   of the two sides expected within the latency target — the node only with a place in its
 *   compute budget, the cloud only with room under its outstanding limit — the one expected
 *   sooner (the node on a tie); else the cloud if it has room and is expected sooner than the
 *   node; else the node if it is in time (its budget is spent, but nothing does better); else
 *   neither is in time: with overload mode `queue` the side expected sooner; else (mode `shed`)
 *   the cloud while it has room, or the node when it is idle or expects to finish within twice
 *   the target; only when the cloud is full or away and the node busy past twice the target is
 *   the request shed (429).
 *
 * Whatever the policy, while the circuit breaker holds the cloud off, a request that would have
 * gone there runs on the node (`fallback`) — or, under `auto` past the target, is shed.
 */
export function decideOffload(inputs: OffloadInputs, thresholds: OffloadThresholds = DEFAULT_THRESHOLDS): OffloadDecision {
  const wanted = wantedTarget(inputs, thresholds);
  if (wanted.target === 'cloud' && !inputs.cloudAvailable) return { ...wanted, target: 'edge', fallback: true };
  return wanted;
}

function wantedTarget(inputs: OffloadInputs, thresholds: OffloadThresholds): OffloadDecision {
  if (inputs.policy === 'edge-only') return { target: 'edge', reason: 'edge-only', fallback: false };
  if (inputs.policy === 'cloud-only') return { target: 'cloud', reason: 'cloud-only', fallback: false };
  const expectedLocal = expectedLocalMs(inputs);
  const expectedCloud = inputs.cloudExpectedMs;
  const decision = (target: OffloadDecision['target'], reason: OffloadReason): OffloadDecision => ({
    target,
    reason,
    fallback: false,
    expectedLocalMs: expectedLocal,
    ...(expectedCloud === undefined ? {} : { expectedCloudMs: expectedCloud }),
  });
  if (!inputs.predictorHealthy) return decision('cloud', 'unhealthy');
  if (inputs.memoryTotalBytes > 0 && inputs.memoryFreeBytes / inputs.memoryTotalBytes < thresholds.memoryFreeShare)
    return decision('cloud', 'memory');
  if (inputs.cpuLoadPerCore >= thresholds.cpuLoadPerCore) return decision('cloud', 'cpu');
  const target = inputs.latencyTargetMs;
  const edgeInTime = expectedLocal <= target;
  // Unknown (no answer yet) counts as in time: the first answers are how the node learns.
  const cloudOpen = inputs.cloudAvailable && inputs.cloudHasRoom;
  const cloudMs = expectedCloud ?? 0;
  const cloudInTime = cloudOpen && cloudMs <= target;
  // Both in time: the one expected sooner (the node on a tie).
  if (edgeInTime && inputs.edgeHasBudget && (!cloudInTime || expectedLocal <= cloudMs)) return decision('edge', 'within-target');
  if (cloudInTime) return decision('cloud', !edgeInTime ? 'queue' : inputs.edgeHasBudget ? 'sooner' : 'busy');
  if (cloudOpen && cloudMs < expectedLocal) return decision('cloud', edgeInTime ? 'busy' : 'queue');
  if (edgeInTime) return decision('edge', 'within-target');
  if (inputs.overload === 'queue') return cloudOpen && cloudMs < expectedLocal ? decision('cloud', 'queue') : decision('edge', 'overload');
  // Both past the target. Capacity, not one late estimate, decides what is shed: the cloud takes
  // it while it has room under its limit (which shrinks as its queue grows); else a node with
  // nothing outstanding (its figure may be stale: only requests refresh it), or one that expects
  // to finish within twice the target (a little late is still an answer).
  if (cloudOpen) return decision('cloud', 'overload');
  const edgeIdle = !inputs.busy && inputs.waiting === 0;
  if (edgeIdle || expectedLocal <= SHED_FACTOR * target) return decision('edge', 'overload');
  return decision('shed', 'overload');
}
