import { Gauge, type Registry } from 'prom-client';
import type { NodeResources } from '../contracts/nodes.js';

/**
 * Gauges of a node's resources as the agent reads them (src/agent/resources.ts): CPUs and load,
 * memory, disk under the data dir, GPUs. `prefix` names them (`fogline_agent` on an agent,
 * `fogline_node` on the control plane, which adds a `node` label).
 */
export class ResourceGauges<L extends string> {
  private readonly cpuCount: Gauge<L>;
  private readonly load1: Gauge<L>;
  private readonly load5: Gauge<L>;
  private readonly load15: Gauge<L>;
  private readonly memoryTotal: Gauge<L>;
  private readonly memoryAvailable: Gauge<L>;
  private readonly diskTotal: Gauge<L>;
  private readonly diskFree: Gauge<L>;
  private readonly gpuMemoryTotal: Gauge<L | 'gpu' | 'gpu_name'>;
  private readonly gpuMemoryUsed: Gauge<L | 'gpu' | 'gpu_name'>;
  private readonly gpuUtilization: Gauge<L | 'gpu' | 'gpu_name'>;

  constructor(registry: Registry, prefix: string, labelNames: readonly L[], subject: string) {
    const gauge = (name: string, help: string) =>
      new Gauge<L>({ name: `${prefix}_${name}`, help: `${help} (${subject})`, labelNames: [...labelNames], registers: [registry] });
    const gpuGauge = (name: string, help: string) =>
      new Gauge<L | 'gpu' | 'gpu_name'>({
        name: `${prefix}_${name}`,
        help: `${help} (${subject})`,
        labelNames: [...labelNames, 'gpu', 'gpu_name'],
        registers: [registry],
      });
    this.cpuCount = gauge('cpus', 'Logical CPUs');
    this.load1 = gauge('load1', 'Load average over 1 minute');
    this.load5 = gauge('load5', 'Load average over 5 minutes');
    this.load15 = gauge('load15', 'Load average over 15 minutes');
    this.memoryTotal = gauge('memory_total_bytes', 'Memory in all');
    this.memoryAvailable = gauge('memory_available_bytes', 'Memory a new process can get (MemAvailable)');
    this.diskTotal = gauge('disk_total_bytes', "Size of the file system that holds the agent's data dir");
    this.diskFree = gauge('disk_free_bytes', "Free space on the file system that holds the agent's data dir");
    this.gpuMemoryTotal = gpuGauge('gpu_memory_total_bytes', 'GPU memory in all');
    this.gpuMemoryUsed = gpuGauge('gpu_memory_used_bytes', 'GPU memory in use');
    this.gpuUtilization = gpuGauge('gpu_utilization_ratio', 'GPU utilisation, 0 to 1');
  }

  /** Forgets every series (before setting a fresh reading of all nodes). */
  reset(): void {
    for (const gauge of this.all()) gauge.reset();
  }

  set(labels: Record<L, string>, resources: NodeResources): void {
    const [load1 = 0, load5 = 0, load15 = 0] = resources.loadAverage;
    this.cpuCount.set(labels, resources.cpuCount);
    this.load1.set(labels, load1);
    this.load5.set(labels, load5);
    this.load15.set(labels, load15);
    this.memoryTotal.set(labels, resources.memoryTotalBytes);
    this.memoryAvailable.set(labels, resources.memoryFreeBytes);
    this.diskTotal.set(labels, resources.diskTotalBytes);
    this.diskFree.set(labels, resources.diskFreeBytes);
    resources.gpus.forEach((gpu, index) => {
      const gpuLabels = { ...labels, gpu: String(index), gpu_name: gpu.name } as Record<L | 'gpu' | 'gpu_name', string>;
      if (gpu.memoryTotalBytes !== undefined) this.gpuMemoryTotal.set(gpuLabels, gpu.memoryTotalBytes);
      if (gpu.memoryUsedBytes !== undefined) this.gpuMemoryUsed.set(gpuLabels, gpu.memoryUsedBytes);
      if (gpu.utilizationPercent !== undefined) this.gpuUtilization.set(gpuLabels, gpu.utilizationPercent / 100);
    });
  }

  private all(): Gauge<string>[] {
    return [
      this.cpuCount,
      this.load1,
      this.load5,
      this.load15,
      this.memoryTotal,
      this.memoryAvailable,
      this.diskTotal,
      this.diskFree,
      this.gpuMemoryTotal,
      this.gpuMemoryUsed,
      this.gpuUtilization,
    ] as Gauge<string>[];
  }
}
