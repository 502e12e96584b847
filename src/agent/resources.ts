import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { promisify } from 'node:util';
import type { NodeResources } from '../contracts/nodes.js';

const run = promisify(execFile);

/** Reads what this machine has right now: CPUs and load, memory, disk under the data dir, GPUs. */
export async function readResources(dataDir: string, gpus: NodeResources['gpus']): Promise<NodeResources> {
  const disk = await fs.promises.statfs(dataDir);
  return {
    cpuCount: Math.max(1, os.availableParallelism()),
    loadAverage: os.loadavg().map((load) => Math.round(load * 100) / 100),
    memoryTotalBytes: os.totalmem(),
    memoryFreeBytes: availableMemory(),
    diskTotalBytes: disk.blocks * disk.bsize,
    diskFreeBytes: disk.bavail * disk.bsize,
    gpus,
  };
}

/** MemAvailable (what a new process can get) where Linux reports it; free memory elsewhere. */
export function availableMemory(): number {
  try {
    const match = /^MemAvailable:\s+(\d+) kB$/m.exec(fs.readFileSync('/proc/meminfo', 'utf8'));
    if (match) return Number(match[1]) * 1024;
  } catch {
    // not Linux
  }
  return os.freemem();
}

/** NVIDIA GPUs through nvidia-smi; none when it is absent. */
export async function detectGpus(): Promise<NodeResources['gpus']> {
  try {
    const { stdout } = await run(
      'nvidia-smi',
      ['--query-gpu=name,memory.total,memory.used,utilization.gpu', '--format=csv,noheader,nounits'],
      { timeout: 5000 },
    );
    return stdout
      .trim()
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => {
        const [name, total, used, utilization] = line.split(',').map((part) => part.trim());
        return {
          name: name ?? 'GPU',
          memoryTotalBytes: Number(total) * 1024 * 1024,
          memoryUsedBytes: Number(used) * 1024 * 1024,
          utilizationPercent: Number(utilization),
        };
      });
  } catch {
    return [];
  }
}
