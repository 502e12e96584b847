import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { V2ModelSource } from '../../inference/v2-model-source.js';
import { readBundleManifest } from '../../ml/bundle/read-manifest.js';
import { trainedBundle } from '../test-support/trained-bundle.js';
import { DriftMonitoredModels } from './drift-models.js';

/** Serves nothing itself: these tests post actuals, which only need the deployment to be ready. */
const readyOnly: V2ModelSource = {
  ready: () => Promise.resolve(true),
  metadata: () => Promise.reject(new Error('not used')),
  modelReady: () => Promise.resolve(),
  infer: () => Promise.reject(new Error('not used')),
};

describe('DriftMonitoredModels', () => {
  it('keeps the actuals posted right after a version starts serving (its slot hands over the manifest)', async () => {
    const bytes = await trainedBundle();
    const serving = { version: 1, sha256: createHash('sha256').update(bytes).digest('hex'), manifest: readBundleManifest(bytes) };
    const models = new DriftMonitoredModels(readyOnly, () => serving);
    models.windows.set('energy', { windowHours: 168, errorWindowHours: 48, sampleUpload: true, samplesAfter: null });
    await models.recordActuals('energy', 1_700_000_000, [100, 101, 102], 3600);
    expect(models.samplesToUpload()).toEqual([
      {
        deployment: 'energy',
        samples: [
          { time: 1_700_000_000, value: 100 },
          { time: 1_700_003_600, value: 101 },
          { time: 1_700_007_200, value: 102 },
        ],
      },
    ]);
  });

  it('refuses actuals whose times are not Unix seconds up to now, keeps none of them, and drops what the control plane refused', async () => {
    const bytes = await trainedBundle();
    const serving = { version: 1, sha256: createHash('sha256').update(bytes).digest('hex'), manifest: readBundleManifest(bytes) };
    const models = new DriftMonitoredModels(readyOnly, () => serving);
    models.windows.set('energy', { windowHours: 168, errorWindowHours: 48, sampleUpload: true, samplesAfter: null });
    const now = Math.floor(Date.now() / 1000);
    for (const [start, values, step] of [
      [1e300, [1], 3600],
      [-1, [1], 3600],
      [now + 2 * 86_400, [1], 3600],
      [now, [1, 2, 3], 3600],
    ] as const) {
      await expect(models.recordActuals('energy', start, [...values], step)).rejects.toMatchObject({
        code: 'FOGLINE_ERR_REQUEST_INVALID',
      });
    }
    expect(models.samplesToUpload()).toEqual([]);
    await models.recordActuals('energy', 1_700_000_000, [100, -5, 102], 3600);
    models.dropSamples('energy', [1_700_003_600]);
    expect(models.samplesToUpload()[0]?.samples.map((s) => s.value)).toEqual([100, 102]);
  });
});
