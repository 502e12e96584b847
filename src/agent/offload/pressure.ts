import os from 'node:os';
import { availableMemory } from '../resources.js';

export interface Pressure {
  cpuLoadPerCore: number;
  memoryFreeBytes: number;
  memoryTotalBytes: number;
}

/**
 * The node's CPU load per core and free memory, read at most once per `maxAgeMs` (a request
 * should not pay for reading /proc): load averages move slowly anyway.
 */
export class PressureGauge {
  private last: { at: number; value: Pressure } | undefined;

  constructor(
    private readonly maxAgeMs = 1000,
    private readonly read: () => Pressure = readPressure,
  ) {}

  now(): Pressure {
    const at = Date.now();
    if (!this.last || at - this.last.at >= this.maxAgeMs) this.last = { at, value: this.read() };
    return this.last.value;
  }
}

export function readPressure(): Pressure {
  const cpus = Math.max(1, os.availableParallelism());
  return { cpuLoadPerCore: (os.loadavg()[0] ?? 0) / cpus, memoryFreeBytes: availableMemory(), memoryTotalBytes: os.totalmem() };
}
