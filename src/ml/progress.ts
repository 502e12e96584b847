import type { TrainingProgress } from './tf/train-loop.js';

/** Progress of a whole training call: a phase change, or an epoch finished. Plain data, safe to post from a worker. */
export type PipelineProgress = { phase: 'prepare' | 'evaluate' | 'package'; message: string } | ({ phase: 'train' } & TrainingProgress);

/** What every long-running entry point accepts. */
export interface RunOptions {
  onProgress?: (progress: PipelineProgress) => void;
  /** Abort to cancel; the call then rejects with `signal.reason`. */
  signal?: AbortSignal;
}
