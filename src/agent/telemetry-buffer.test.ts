import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { NodeResources } from '../contracts/nodes.js';
import { TelemetryBuffer } from './telemetry-buffer.js';

const resources = (load: number): NodeResources => ({
  cpuCount: 2,
  loadAverage: [load, 0, 0],
  memoryTotalBytes: 100,
  memoryFreeBytes: 50,
  diskTotalBytes: 100,
  diskFreeBytes: 50,
  gpus: [],
});

describe('TelemetryBuffer', () => {
  it('keeps the newest samples within its capacity and counts what it dropped', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 0, max: 200 }), (capacity, pushes) => {
        const buffer = new TelemetryBuffer(capacity);
        for (let i = 0; i < pushes; i += 1) buffer.push(i, resources(i));
        const backlog = buffer.take();
        if (pushes === 0) {
          expect(backlog).toBeUndefined();
          return;
        }
        expect(backlog!.samples.length).toBe(Math.min(capacity, pushes));
        expect(backlog!.dropped).toBe(Math.max(0, pushes - capacity));
        // Oldest dropped first: what is left is the most recent, in order.
        expect(backlog!.samples.map((s) => s.at)).toEqual(
          Array.from({ length: Math.min(capacity, pushes) }, (_, i) => pushes - Math.min(capacity, pushes) + i),
        );
      }),
    );
  });

  it('forgets only what was delivered: samples taken after the send stay for the next one', () => {
    const buffer = new TelemetryBuffer(10);
    buffer.push(1, resources(1));
    buffer.push(2, resources(2));
    const backlog = buffer.take()!;
    buffer.push(3, resources(3));
    buffer.delivered(backlog);
    expect(buffer.take()).toEqual({ samples: [{ at: 3, resources: resources(3) }], dropped: 0 });
    buffer.delivered(buffer.take()!);
    expect(buffer.take()).toBeUndefined();
  });
});
