import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunEventList, RunView } from '../../src/contracts/runs.js';
import { RunRepository } from '../../src/pipelines/run-repository.js';
import { openStore } from '../../src/store/store.js';
import { startTestControlPlane } from '../support/control-plane.js';
import { eventually } from '../support/processes.js';

describe('runs across a control-plane restart', () => {
  it('fails no run: an interrupted run is taken over as a second attempt, a queued one runs, each registers one version', async () => {
    const first = await startTestControlPlane();
    const dataDir = first.dataDir;
    await first.uploadPjme();
    await first.close();

    // What a control plane killed 20 s ago leaves behind: one run it held mid-training, one still queued.
    const store = openStore(`sqlite:${path.join(dataDir, 'fogline.db')}`);
    const runs = new RunRepository(store.db, () => Date.now() - 20_000);
    const base = { pipeline: 'forecast', dataset: { name: 'pjme', version: 1 }, model: 'energy', createdBy: null } as const;
    const interrupted = await runs.create({ ...base, params: { epochs: 1, hidden: [8] }, gate: 'none' });
    expect(await runs.claim(interrupted, 'the killed control plane', 15_000)).toMatchObject({ outcome: 'claimed', attempt: 1 });
    await runs.setStep(interrupted, 'prepare', 'succeeded');
    await runs.setStep(interrupted, 'train', 'running');
    const queued = await runs.create({ ...base, params: { epochs: 1, hidden: [8] }, gate: 'none' });
    await store.close();

    const second = await startTestControlPlane({ dataDir });
    try {
      const get = async (id: string) => (await second.call('GET', `/api/v1/runs/${id}`, { token: second.adminToken })).body as RunView;
      const finished = async (id: string) =>
        eventually(async () => {
          const run = await get(id);
          return run.status === 'succeeded' || run.status === 'failed' ? run : undefined;
        }, 120_000);
      const resumed = await finished(interrupted);
      expect(resumed.error).toBeNull();
      expect(resumed.status).toBe('succeeded');
      expect(resumed.attempt).toBe(2);
      expect(resumed.worker).toMatch(/^control plane /);
      expect(resumed.steps.map((s) => s.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
      const events = (await second.call('GET', `/api/v1/runs/${interrupted}/events`, { token: second.adminToken })).body as RunEventList;
      expect(events.events.map((event) => event.payload.message)).toContain(
        'attempt 2, taken by ' + resumed.worker + ': the killed control plane stopped before the end',
      );
      const done = await finished(queued);
      expect(done.error).toBeNull();
      expect(done.attempt).toBe(1);
      // With no gate, each run registers its version whatever its metrics: two runs, two versions.
      expect([resumed.registeredVersion, done.registeredVersion].sort()).toEqual([1, 2]);
    } finally {
      await second.close();
    }
  });
});
