import type { StepName } from '../../contracts/runs.js';
import type { PipelineProgress } from '../../ml/progress.js';
import { StepCache } from './step-cache.js';
import type { FromWorker } from './worker-protocol.js';

/** What a pipeline's steps get from the worker: a way to report, the cache, and the cancel signal. */
export class StepContext {
  readonly cache: StepCache;

  constructor(
    private readonly post: (message: FromWorker) => void,
    cacheDir: string,
    readonly signal: AbortSignal,
  ) {
    this.cache = new StepCache(cacheDir);
  }

  progress(step: StepName): (progress: PipelineProgress) => void {
    return (progress) => this.post({ type: 'progress', step, progress });
  }

  log(step: StepName, message: string): void {
    this.post({ type: 'log', step, message });
  }

  /**
   * Runs `compute` unless the cache already holds this step's files under `key`; either way the
   * step's status is reported, with `summarize` saying in a few figures what it produced.
   */
  async step<T extends Record<string, Uint8Array | string>>(
    step: StepName,
    key: string,
    names: (keyof T & string)[],
    compute: () => Promise<T>,
    summarize: (files: Record<keyof T, Buffer>) => Record<string, unknown>,
  ): Promise<Record<keyof T, Buffer>> {
    this.signal.throwIfAborted();
    if (this.cache.has(key, names)) {
      const files = Object.fromEntries(names.map((name) => [name, this.cache.read(key, name)])) as Record<keyof T, Buffer>;
      this.post({ type: 'step', step, status: 'cached', cacheKey: key, summary: summarize(files) });
      return files;
    }
    this.post({ type: 'step', step, status: 'running', cacheKey: key });
    this.cache.write(key, await compute());
    const files = Object.fromEntries(names.map((name) => [name, this.cache.read(key, name)])) as Record<keyof T, Buffer>;
    this.post({ type: 'step', step, status: 'succeeded', cacheKey: key, summary: summarize(files) });
    return files;
  }
}
