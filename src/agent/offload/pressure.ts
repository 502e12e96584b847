import os from 'node:os';
import { type EventLoopUtilization, performance } from 'node:perf_hooks';
import { availableMemory } from '../resources.js';

export interface Pressure {
  cpuLoadPerCore: number;
  memoryFreeBytes: number;
  memoryTotalBytes: number;
  /** Share of the time since the previous reading that this process's event loop was busy (0–1). */
  eventLoopUtilization: number;
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
    private readonly maxAgeMs = 250,
    private readonly read: () => Omit<Pressure, 'eventLoopUtilization'> = readPressure,
  ) {}

  now(): Pressure {
    const at = Date.now();
    if (!this.last || at - this.last.at >= this.maxAgeMs) {
      const elu = performance.eventLoopUtilization();
      const utilization = performance.eventLoopUtilization(elu, this.elu).utilization;
      this.elu = elu;
      this.last = { at, value: { ...this.read(), eventLoopUtilization: Number.isFinite(utilization) ? utilization : 0 } };
    }
    return this.last.value;
  }
}

export function readPressure(): Omit<Pressure, 'eventLoopUtilization'> {
  const cpus = Math.max(1, os.availableParallelism());
  return { cpuLoadPerCore: (os.loadavg()[0] ?? 0) / cpus, memoryFreeBytes: availableMemory(), memoryTotalBytes: os.totalmem() };
}
