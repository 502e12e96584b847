import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { RunLedger } from '../../pipelines/run-ledger.js';
import { type NewRun, RunRepository } from '../../pipelines/run-repository.js';
import { migrateToLatest, openStore, type Store } from '../../store/store.js';
import { PipelineMetrics } from './pipeline-metrics.js';

const stores: Store[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

const NEW_RUN: NewRun = {
  pipeline: 'forecast',
  dataset: { name: 'pjme', version: 1 },
  model: 'energy',
  params: {},
  gate: 'none',
  createdBy: null,
};

describe('PipelineMetrics as the run ledger observer', () => {
  it('counts what the ledger records: finished steps and runs with their durations, epochs and their losses', async () => {
    const store = openStore('sqlite::memory:');
    stores.push(store);
    await migrateToLatest(store);
    let now = 1_000_000;
    const runs = new RunRepository(store.db, () => now);
    const registry = new Registry();
    const metrics = new PipelineMetrics(registry);
    // Reports and finishing touch neither the datasets nor the registry.
    const ledger = new RunLedger({ runs, datasets: undefined as never, models: undefined as never, observer: metrics });

    const id = await runs.create(NEW_RUN);
    await runs.claim(id, 'test worker', 15_000);
    await ledger.report(id, 1, { type: 'step', step: 'prepare', status: 'running' });
    now += 2000;
    await ledger.report(id, 1, { type: 'step', step: 'prepare', status: 'succeeded' });
    const epoch = { phase: 'train', epochs: 2, bestEpoch: 1, elapsedMs: 10, etaMs: 10 } as const;
    await ledger.report(id, 1, { type: 'progress', step: 'train', progress: { ...epoch, epoch: 1, loss: 0.5, valLoss: 0.6 } });
    await ledger.report(id, 1, { type: 'progress', step: 'train', progress: { ...epoch, epoch: 2, loss: 0.25, valLoss: 0.3 } });
    now += 3000;
    await ledger.report(id, 1, { type: 'failed', step: 'train', message: 'out of memory', canceled: false });
    const never = await runs.create(NEW_RUN);
    await ledger.finish(never, 'canceled', 'canceled before it started');

    const text = await registry.metrics();
    expect(text).toContain('fogline_pipeline_step_duration_seconds_sum{pipeline="forecast",step="prepare",status="succeeded"} 2');
    expect(text).toContain('fogline_pipeline_step_duration_seconds_count{pipeline="forecast",step="train",status="failed"} 1');
    expect(text).toContain('fogline_pipeline_epochs_total{pipeline="forecast",model="energy"} 2');
    expect(text).toContain('fogline_pipeline_last_epoch{pipeline="forecast",model="energy"} 2');
    expect(text).toContain('fogline_pipeline_last_epoch_loss{pipeline="forecast",model="energy"} 0.25');
    expect(text).toContain('fogline_pipeline_last_epoch_val_loss{pipeline="forecast",model="energy"} 0.3');
    expect(text).toContain('fogline_pipeline_runs_finished_total{pipeline="forecast",status="failed"} 1');
    expect(text).toContain('fogline_pipeline_run_duration_seconds_sum{pipeline="forecast",status="failed"} 5');
    expect(text).toContain('fogline_pipeline_runs_finished_total{pipeline="forecast",status="canceled"} 1');
    // A run that never left the queue has no duration.
    expect(text).not.toContain('fogline_pipeline_run_duration_seconds_count{pipeline="forecast",status="canceled"}');
  });
});
