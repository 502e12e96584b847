import { describe, expect, it } from 'vitest';
import type { LoadedPredictor } from '../../ml/bundle/load-bundle.js';
import { ModelSlot } from './model-slot.js';

/** A predictor whose answers the test releases by hand, to hold requests in flight across a swap. */
function heldPredictor(label: string) {
  const pending: (() => void)[] = [];
  let disposed = false;
  const predictor = {
    kind: 'forecaster',
    predict: async () => {
      if (disposed) throw new Error(`${label} used after dispose`);
      await new Promise<void>((resolve) => pending.push(resolve));
      if (disposed) throw new Error(`${label} disposed mid-request`);
      return [{ name: 'out', shape: [1], datatype: 'FP32' as const, data: [label === 'v1' ? 1 : 2] }];
    },
    dispose: () => {
      disposed = true;
    },
  } as unknown as LoadedPredictor;
  return { predictor, release: () => pending.splice(0).forEach((resolve) => resolve()), isDisposed: () => disposed };
}

describe('ModelSlot', () => {
  it('switches new requests at once and frees the old version only after its in-flight requests answer', async () => {
    const v1 = heldPredictor('v1');
    const v2 = heldPredictor('v2');
    const slot = new ModelSlot({ version: 1, sha256: 'a', predictor: v1.predictor });
    const before = slot.use((loaded) => loaded.predictor.predict([]));
    const swapped = slot.swap({ version: 2, sha256: 'b', predictor: v2.predictor });
    expect(slot.version).toBe(2);
    const after = slot.use((loaded) => loaded.predictor.predict([]));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(v1.isDisposed()).toBe(false);
    v1.release();
    v2.release();
    expect((await before)[0]!.data).toEqual([1]);
    expect((await after)[0]!.data).toEqual([2]);
    await swapped;
    expect(v1.isDisposed()).toBe(true);
    expect(v2.isDisposed()).toBe(false);
  });

  it('frees an idle old version right away, and the last one on close', async () => {
    const v1 = heldPredictor('v1');
    const v2 = heldPredictor('v2');
    const slot = new ModelSlot({ version: 1, sha256: 'a', predictor: v1.predictor });
    await slot.swap({ version: 2, sha256: 'b', predictor: v2.predictor });
    expect(v1.isDisposed()).toBe(true);
    await slot.close();
    expect(v2.isDisposed()).toBe(true);
  });
});
