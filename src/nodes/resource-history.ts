import type { ResourceSample } from '../contracts/live.js';
import type { NodeResources } from '../contracts/nodes.js';

export interface ResourceHistoryOptions {
  /** How far back samples are kept (default: one hour). */
  windowSeconds?: number;
  /** A heartbeat closer than this to the node's previous sample is not kept (default 10 s). */
  minSpacingSeconds?: number;
  /** Nodes tracked at most; past that, the node heard from least recently is forgotten. */
  maxNodes?: number;
}

/** One node's samples in a ring of fixed size: 20 bytes a sample, allocated once. */
class NodeRing {
  readonly t: Float64Array;
  readonly load1: Float32Array;
  readonly memoryUsed: Float64Array;
  cpuCount = 1;
  memoryTotal = 0;
  /** Index of the oldest sample. */
  head = 0;
  size = 0;

  constructor(readonly capacity: number) {
    this.t = new Float64Array(capacity);
    this.load1 = new Float32Array(capacity);
    this.memoryUsed = new Float64Array(capacity);
  }

  lastTime(): number {
    return this.size === 0 ? -Infinity : (this.t[(this.head + this.size - 1) % this.capacity] ?? -Infinity);
  }

  push(t: number, resources: NodeResources): void {
    const index = (this.head + this.size) % this.capacity;
    this.t[index] = t;
    this.load1[index] = resources.loadAverage[0] ?? 0;
    this.memoryUsed[index] = Math.max(0, resources.memoryTotalBytes - resources.memoryFreeBytes);
    this.cpuCount = resources.cpuCount;
    this.memoryTotal = resources.memoryTotalBytes;
    if (this.size < this.capacity) this.size += 1;
    else this.head = (this.head + 1) % this.capacity;
  }

  samples(since: number): ResourceSample[] {
    const out: ResourceSample[] = [];
    for (let i = 0; i < this.size; i++) {
      const index = (this.head + i) % this.capacity;
      const t = this.t[index] ?? 0;
      if (t < since) continue;
      out.push({
        t,
        load1: Math.round((this.load1[index] ?? 0) * 100) / 100,
        cpuCount: this.cpuCount,
        memoryUsedBytes: this.memoryUsed[index] ?? 0,
        memoryTotalBytes: this.memoryTotal,
      });
    }
    return out;
  }
}

/**
 * The last hour of each node's heartbeat resources, in memory on the control plane, so that the
 * dashboard shows CPU and memory over time as soon as it opens (a browser that collected them
 * itself would start with empty charts). Bounded: at most `window / minSpacing` samples per node
 * (360 by default, 7 KiB) and `maxNodes` nodes (10,000: about 70 MiB at most). History is not
 * persisted: after a restart the charts fill again from the next heartbeats.
 */
export class ResourceHistory {
  readonly windowSeconds: number;
  readonly minSpacingSeconds: number;
  readonly maxNodes: number;
  private readonly capacity: number;
  /** Map order is least recently updated first: an update moves the node to the end. */
  private readonly nodes = new Map<string, NodeRing>();

  constructor(options: ResourceHistoryOptions = {}) {
    this.windowSeconds = options.windowSeconds ?? 3600;
    this.minSpacingSeconds = options.minSpacingSeconds ?? 10;
    this.maxNodes = options.maxNodes ?? 10_000;
    this.capacity = Math.max(1, Math.ceil(this.windowSeconds / this.minSpacingSeconds) + 1);
  }

  /** Records one heartbeat; returns the sample when it was kept (not too close to the previous one). */
  record(nodeId: string, resources: NodeResources, nowMs: number = Date.now()): ResourceSample | null {
    const t = nowMs / 1000;
    let ring = this.nodes.get(nodeId);
    if (ring && t - ring.lastTime() < this.minSpacingSeconds) return null;
    if (ring) {
      this.nodes.delete(nodeId);
    } else {
      ring = new NodeRing(this.capacity);
      while (this.nodes.size >= this.maxNodes) {
        const oldest = this.nodes.keys().next().value;
        if (oldest === undefined) break;
        this.nodes.delete(oldest);
      }
    }
    this.nodes.set(nodeId, ring);
    ring.push(t, resources);
    return ring.samples(t)[0] ?? null;
  }

  /** The node's samples of the last window, oldest first (empty for a node not heard from). */
  samples(nodeId: string, nowMs: number = Date.now()): ResourceSample[] {
    return this.nodes.get(nodeId)?.samples(nowMs / 1000 - this.windowSeconds) ?? [];
  }

  forget(nodeId: string): void {
    this.nodes.delete(nodeId);
  }

  get nodeCount(): number {
    return this.nodes.size;
  }
}
