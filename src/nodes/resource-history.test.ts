import { describe, expect, it } from 'vitest';
import type { NodeResources } from '../contracts/nodes.js';
import { ResourceHistory } from './resource-history.js';

const resources = (load: number, freeGiB = 6): NodeResources => ({
  cpuCount: 2,
  loadAverage: [load, 0, 0],
  memoryTotalBytes: 8 * 2 ** 30,
  memoryFreeBytes: freeGiB * 2 ** 30,
  diskTotalBytes: 1,
  diskFreeBytes: 1,
  gpus: [],
});

describe('ResourceHistory', () => {
  it('keeps samples at least minSpacing apart, oldest first', () => {
    const history = new ResourceHistory({ minSpacingSeconds: 10 });
    expect(history.record('a', resources(1), 0)).not.toBeNull();
    expect(history.record('a', resources(2), 5_000)).toBeNull();
    expect(history.record('a', resources(3, 4), 10_000)).toMatchObject({ t: 10, load1: 3, memoryUsedBytes: 4 * 2 ** 30 });
    expect(history.samples('a', 10_000).map((s) => s.load1)).toEqual([1, 3]);
    expect(history.samples('unknown')).toEqual([]);
  });

  it('keeps only the window, in a ring of fixed size', () => {
    const history = new ResourceHistory({ windowSeconds: 60, minSpacingSeconds: 10 });
    for (let i = 0; i < 100; i++) history.record('a', resources(i), i * 10_000);
    const samples = history.samples('a', 99 * 10_000);
    expect(samples.map((s) => s.load1)).toEqual([93, 94, 95, 96, 97, 98, 99]);
    // An hour later, nothing of it is shown any more.
    expect(history.samples('a', 99 * 10_000 + 61_000)).toEqual([]);
  });

  it('forgets the node heard from least recently when it tracks too many', () => {
    const history = new ResourceHistory({ maxNodes: 2 });
    history.record('a', resources(1), 0);
    history.record('b', resources(1), 0);
    history.record('a', resources(1), 20_000);
    history.record('c', resources(1), 20_000);
    expect(history.nodeCount).toBe(2);
    expect(history.samples('b', 20_000)).toEqual([]);
    expect(history.samples('a', 20_000)).toHaveLength(2);
  });
});
