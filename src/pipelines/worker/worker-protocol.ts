import type { PipelineName, StepName } from '../../contracts/runs.js';
import type { DatasetReadOptions } from '../../datasets/dataset-reader.js';
import type { PipelineProgress } from '../../ml/progress.js';

/** What the control plane tells a run's worker thread. */
export type ToWorker =
  | {
      type: 'run';
      runId: string;
      pipeline: PipelineName;
      dataset: { file: string; sha256: string; read: DatasetReadOptions };
      params: Record<string, unknown>;
      /** With the `warmStartFrom` parameter: the bundle of that version, whose weights start the training. */
      warmStart?: { file: string; model: string; version: number };
      cacheDir: string;
      codeVersion: string;
    }
  | { type: 'cancel' };

/** The outcome of the steps that run in the worker, ready for the register step. */
export interface WorkerResult {
  /** The evaluated bundle, in the step cache. */
  bundleFile: string;
  kind: string;
  ioSignature: {
    inputs: { name: string; datatype: string; shape: number[] }[];
    outputs: { name: string; datatype: string; shape: number[] }[];
  };
  metrics: Record<string, unknown>;
  /** Did the model pass the gate on the test split? */
  gate: { passed: boolean; metric: string; model: number; baseline: number; baselineName: string; rule: string };
  /** The resolved parameters, defaults included (they go into the version's lineage). */
  params: Record<string, unknown>;
}

/** What a run's worker thread reports back. */
export type FromWorker =
  | { type: 'step'; step: StepName; status: 'running' | 'succeeded' | 'cached'; cacheKey?: string; summary?: Record<string, unknown> }
  | { type: 'progress'; step: StepName; progress: PipelineProgress }
  | { type: 'log'; step: StepName; message: string }
  | { type: 'done'; result: WorkerResult }
  | { type: 'failed'; step: StepName; message: string; problem?: string; canceled: boolean };
