import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { NodeView } from '../contracts/nodes.js';
import { MEMORY_PER_BUNDLE_BYTE, planPlacement } from './placement.js';

const MiB = 1_048_576;

function node(
  name: string,
  options: { freeMiB?: number; runtimes?: ('onnx' | 'tfjs')[]; arch?: string; labels?: Record<string, string> },
): NodeView {
  return {
    id: `id-${name}`,
    name,
    role: 'edge',
    labels: options.labels ?? { site: 'a' },
    status: 'online',
    cordoned: false,
    lastHeartbeatAt: null,
    heartbeatAgeSeconds: 1,
    resources: {
      cpuCount: 4,
      loadAverage: [0, 0, 0],
      memoryTotalBytes: 8192 * MiB,
      memoryFreeBytes: (options.freeMiB ?? 4096) * MiB,
      diskTotalBytes: 0,
      diskFreeBytes: 0,
      gpus: [],
    },
    agent: {
      version: '0.1.0',
      os: 'linux 6.1',
      arch: options.arch ?? 'x64',
      hostname: name,
      inferenceUrl: `http://${name}:7071`,
      ...(options.runtimes ? { runtimes: options.runtimes } : {}),
    },
    inferenceUrl: `http://${name}:7071`,
    enrolledAt: new Date(0).toISOString(),
  };
}

describe('placement', () => {
  it('refuses an ONNX-only model on a node without ONNX Runtime, saying why', () => {
    const nodes = [node('pi-zero', { runtimes: ['tfjs'], arch: 'arm' }), node('gateway', { runtimes: ['onnx', 'tfjs'] })];
    const { placed, refused } = planPlacement({ site: 'a' }, { bundleBytes: MiB, needsOnnx: true }, nodes);
    expect(placed.map((n) => n.name)).toEqual(['gateway']);
    expect(refused).toHaveLength(1);
    expect(refused[0]?.node.name).toBe('pi-zero');
    expect(refused[0]?.reason).toMatch(/needs ONNX Runtime, which does not load on this node \(linux 6\.1, arm\); it runs tfjs only/);
  });

  it('treats an agent that reports no runtimes as TensorFlow.js only', () => {
    const { placed, refused } = planPlacement({}, { bundleBytes: MiB, needsOnnx: true }, [node('old', {})]);
    expect(placed).toEqual([]);
    expect(refused[0]?.reason).toMatch(/runs tfjs only/);
    expect(planPlacement({}, { bundleBytes: MiB, needsOnnx: false }, [node('old', {})]).placed).toHaveLength(1);
  });

  it('refuses a model too large for the free memory, with the sizes', () => {
    const { placed, refused } = planPlacement({}, { bundleBytes: 300 * MiB, needsOnnx: false }, [node('small', { freeMiB: 1000 })]);
    expect(placed).toEqual([]);
    expect(refused[0]?.reason).toBe('the model needs about 1200 MiB of free memory (4× its 300 MiB bundle); the node has 1000 MiB free');
  });

  it('never refuses nodes the selector did not choose, and places each chosen node exactly once', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ free: fc.integer({ min: 0, max: 4096 }), onnx: fc.boolean(), site: fc.constantFrom('a', 'b') }), {
          maxLength: 12,
        }),
        fc.integer({ min: 1, max: 1024 }),
        fc.boolean(),
        (specs, bundleMiB, needsOnnx) => {
          const nodes = specs.map((s, i) =>
            node(`n${i}`, { freeMiB: s.free, runtimes: s.onnx ? ['onnx', 'tfjs'] : ['tfjs'], labels: { site: s.site } }),
          );
          const { placed, refused } = planPlacement({ site: 'a' }, { bundleBytes: bundleMiB * MiB, needsOnnx }, nodes);
          const chosen = nodes.filter((n) => n.labels.site === 'a');
          expect([...placed, ...refused.map((r) => r.node)].map((n) => n.id).sort()).toEqual(chosen.map((n) => n.id).sort());
          for (const n of placed) {
            expect(n.resources!.memoryFreeBytes).toBeGreaterThanOrEqual(bundleMiB * MiB * MEMORY_PER_BUNDLE_BYTE);
            if (needsOnnx) expect(n.agent?.runtimes).toContain('onnx');
          }
        },
      ),
    );
  });
});
