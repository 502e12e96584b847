import os from 'node:os';
import { type EventLoopUtilization, performance } from 'node:perf_hooks';
import { availableMemory } from '../resources.js';

export interface Pressure {
  cpuLoadPerCore: number;
  memoryFreeBytes: number;
  memoryTotalBytes: number;
  /** Share of the time since the previous reading that this process's event loop was busy (0–1). */
  eventLoopUtilization: number;
  /** How long that was, ms (0 for a reading handed over again). */
  windowMs: number;
}

/**
 * The node's CPU load per core, free memory and this agent's event-loop utilisation, read at
 * most once per `maxAgeMs` (a request should not pay for reading /proc; the utilisation is over
 * the time between readings).
 */
export class PressureGauge {
  private last: { at: number; value: Pressure } | undefined;
  private elu: EventLoopUtilization = performance.eventLoopUtilization();

  constructor(
    private readonly maxAgeMs = 100,
    private readonly read: () => Omit<Pressure, 'eventLoopUtilization' | 'windowMs'> = readPressure,
  ) {}

  /** The latest reading; a new one (with its window) at most every `maxAgeMs`, else the last with `windowMs` 0. */
  now(): Pressure {
    const at = Date.now();
    if (!this.last || at - this.last.at >= this.maxAgeMs) {
      const elu = performance.eventLoopUtilization();
      const delta = performance.eventLoopUtilization(elu, this.elu);
      this.elu = elu;
      const utilization = Number.isFinite(delta.utilization) ? delta.utilization : 0;
      this.last = { at, value: { ...this.read(), eventLoopUtilization: utilization, windowMs: delta.idle + delta.active } };
      return this.last.value;
    }
    return { ...this.last.value, windowMs: 0 };
  }
}

export function readPressure(): Omit<Pressure, 'eventLoopUtilization' | 'windowMs'> {
  const cpus = Math.max(1, os.availableParallelism());
  return { cpuLoadPerCore: (os.loadavg()[0] ?? 0) / cpus, memoryFreeBytes: availableMemory(), memoryTotalBytes: os.totalmem() };
}
