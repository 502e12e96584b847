import type { NodeResources, TelemetryBacklog } from '../contracts/nodes.js';

/** Samples kept while away: at one per heartbeat attempt (back-off up to 30 s), a few hours. */
export const TELEMETRY_BUFFER_SAMPLES = 720;

/**
 * Resource samples measured while the control plane could not be reached, in bounded memory:
 * when full, the oldest sample goes first and is counted as dropped. `take` hands the backlog to
 * the next heartbeat; `delivered` forgets it once that heartbeat got through.
 */
export class TelemetryBuffer {
  private samples: TelemetryBacklog['samples'] = [];
  private dropped = 0;
  /** Dropped since the agent started, for metrics (never reset). */
  droppedTotal = 0;

  constructor(private readonly capacity = TELEMETRY_BUFFER_SAMPLES) {}

  push(at: number, resources: NodeResources): void {
    this.samples.push({ at, resources });
    if (this.samples.length > this.capacity) {
      this.samples.shift();
      this.dropped += 1;
      this.droppedTotal += 1;
    }
  }

  get size(): number {
    return this.samples.length;
  }

  /** The backlog to send, or undefined when there is none; it stays here until `delivered`. */
  take(): TelemetryBacklog | undefined {
    if (this.samples.length === 0 && this.dropped === 0) return undefined;
    return { samples: [...this.samples], dropped: this.dropped };
  }

  /** Forgets what `backlog` held: it reached the control plane. */
  delivered(backlog: TelemetryBacklog): void {
    const sent = new Set(backlog.samples);
    this.samples = this.samples.filter((sample) => !sent.has(sample));
    this.dropped = Math.max(0, this.dropped - backlog.dropped);
  }
}
