import type { MessagePort } from 'node:worker_threads';
import type { PipelineName, StepName } from '../../contracts/runs.js';
import { isMlInputError } from '../../ml/errors.js';
import { runAnomalyPipeline } from './anomaly-pipeline.js';
import { runForecastPipeline } from './forecast-pipeline.js';
import { runImageClassifierPipeline } from './image-classifier-pipeline.js';
import { StepContext } from './step-context.js';
import type { FromWorker, ToWorker, WorkerResult } from './worker-protocol.js';

type RunMessage = Extract<ToWorker, { type: 'run' }>;

/** The pipelines whose steps run in a worker thread, by name. */
const PIPELINES: Record<PipelineName, (run: RunMessage, ctx: StepContext) => Promise<WorkerResult>> = {
  forecast: runForecastPipeline,
  anomaly: runAnomalyPipeline,
  'image-classifier': runImageClassifierPipeline,
};

/** Serves one run on `port`: runs its steps, reports each, and stops early when told to cancel. */
export function servePipelineRun(port: MessagePort): void {
  const abort = new AbortController();
  let currentStep: StepName = 'prepare';
  const post = (message: FromWorker) => {
    if (message.type === 'step') currentStep = message.step;
    port.postMessage(message);
  };
  port.on('message', (message: ToWorker) => {
    if (message.type === 'cancel') {
      abort.abort(new Error('canceled'));
      return;
    }
    const work = PIPELINES[message.pipeline](message, new StepContext(post, message.cacheDir, abort.signal));
    work.then(
      (result) => post({ type: 'done', result }),
      (error: unknown) =>
        post({
          type: 'failed',
          step: currentStep,
          message: error instanceof Error ? error.message : String(error),
          problem: isMlInputError(error) ? error.problem : undefined,
          canceled: abort.signal.aborted,
        }),
    );
  });
}
