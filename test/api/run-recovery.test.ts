import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunView } from '../../src/contracts/runs.js';
import { RunRepository } from '../../src/pipelines/run-repository.js';
import { openStore } from '../../src/store/store.js';
import { startTestControlPlane } from '../support/control-plane.js';
import { eventually } from '../support/processes.js';

describe('runs across a control-plane restart', () => {
  it('never leaves a run running: interrupted runs fail, queued ones run after the restart', async () => {
    const first = await startTestControlPlane();
    const dataDir = first.dataDir;
    await first.uploadPjme();
    await first.close();

    // What a killed control plane leaves behind: one run marked running, one still queued.
    const store = openStore(`sqlite:${path.join(dataDir, 'fogline.db')}`);
    const runs = new RunRepository(store.db);
    const base = { pipeline: 'forecast', dataset: { name: 'pjme', version: 1 }, model: 'energy', createdBy: null } as const;
    const interrupted = await runs.create({ ...base, params: { epochs: 1, hidden: [8] }, gate: 'none' });
    await runs.setStatus(interrupted, 'running');
    await runs.setStep(interrupted, 'train', 'running');
    const queued = await runs.create({ ...base, params: { epochs: 1, hidden: [8] }, gate: 'none' });
    await store.close();

    const second = await startTestControlPlane({ dataDir });
    try {
      const get = async (id: string) => (await second.call('GET', `/api/v1/runs/${id}`, { token: second.adminToken })).body as RunView;
      const failed = await get(interrupted);
      expect(failed.status).toBe('failed');
      expect(failed.error).toMatch(/stopped during this run/);
      expect(failed.steps.map((s) => s.status)).toEqual(['skipped', 'skipped', 'skipped', 'skipped']);
      const done = await eventually(async () => {
        const run = await get(queued);
        return run.status === 'succeeded' || run.status === 'failed' ? run : undefined;
      }, 120_000);
      expect(done.error).toBeNull();
      expect(done.gate).toBe('none');
      // With no gate, the version is registered whatever its metrics.
      expect(done.registeredVersion).toBe(1);
    } finally {
      await second.close();
    }
  });
});
