import os from 'node:os';
import { type EventLoopUtilization, type IntervalHistogram, monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { availableMemory } from '../resources.js';

export interface Pressure {
  cpuLoadPerCore: number;
  memoryFreeBytes: number;
  memoryTotalBytes: number;
  /** Share of the time since the previous reading that this process's event loop was busy (0–1). */
  eventLoopUtilization: number;
  /** How long that was, ms (0 for a reading handed over again). */
  windowMs: number;
  /** Mean event-loop delay over that window, ms: how late the loop got to what was due (a request, a timer). */
  loopDelayMs: number;
}

/**
 * The node's CPU load per core, free memory and this agent's event-loop utilisation, read at
 * most once per `maxAgeMs` (a request should not pay for reading /proc; the utilisation is over
 * the time between readings).
 */
export class PressureGauge {
  private last: { at: number; value: Pressure } | undefined;
  private elu: EventLoopUtilization = performance.eventLoopUtilization();
  private delay: IntervalHistogram | undefined;

  constructor(
    private readonly maxAgeMs = 100,
    private readonly read: () => Omit<Pressure, 'eventLoopUtilization' | 'windowMs' | 'loopDelayMs'> = readPressure,
  ) {}

  /** The latest reading; a new one (with its window) at most every `maxAgeMs`, else the last with `windowMs` 0. */
  now(): Pressure {
    const at = Date.now();
    if (!this.last || at - this.last.at >= this.maxAgeMs) {
      const elu = performance.eventLoopUtilization();
      const delta = performance.eventLoopUtilization(elu, this.elu);
      this.elu = elu;
      const utilization = Number.isFinite(delta.utilization) ? delta.utilization : 0;
      // Sampled every 10 ms from the first reading on (an agent that never offloads never starts it).
      if (!this.delay) {
        this.delay = monitorEventLoopDelay({ resolution: 10 });
        this.delay.enable();
      }
      const loopDelayMs = this.delay.count > 0 && Number.isFinite(this.delay.mean) ? this.delay.mean / 1e6 : 0;
      this.delay.reset();
      this.last = { at, value: { ...this.read(), eventLoopUtilization: utilization, windowMs: delta.idle + delta.active, loopDelayMs } };
      return this.last.value;
    }
    return { ...this.last.value, windowMs: 0 };
  }
}

export function readPressure(): Omit<Pressure, 'eventLoopUtilization' | 'windowMs' | 'loopDelayMs'> {
  const cpus = Math.max(1, os.availableParallelism());
  return { cpuLoadPerCore: (os.loadavg()[0] ?? 0) / cpus, memoryFreeBytes: availableMemory(), memoryTotalBytes: os.totalmem() };
}
