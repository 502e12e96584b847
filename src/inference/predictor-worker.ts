// Entry file of a model version's worker thread: loads one bundle and answers predict messages.
import { parentPort, workerData } from 'node:worker_threads';
import { loadBundle } from '../ml/bundle/load-bundle.js';
import { isMlInputError } from '../ml/errors.js';
import type { FromPredictorWorker, PredictorWorkerData, ToPredictorWorker, WorkerFailure } from './predictor-protocol.js';

if (!parentPort) throw new Error('predictor-worker.js runs only as a worker thread');
const port = parentPort;
const post = (message: FromPredictorWorker) => port.postMessage(message);
const failure = (error: unknown): WorkerFailure =>
  isMlInputError(error)
    ? { message: error.message, problem: error.problem }
    : { message: error instanceof Error ? error.message : String(error) };

try {
  const { bytes, options } = workerData as PredictorWorkerData;
  const predictor = await loadBundle(bytes, options);
  port.on('message', (message: ToPredictorWorker) => {
    predictor.predict(message.inputs).then(
      (outputs) => post({ type: 'result', id: message.id, outputs }),
      (error: unknown) => post({ type: 'failed', id: message.id, failure: failure(error) }),
    );
  });
  post({ type: 'loaded', manifest: predictor.manifest, kind: predictor.kind, signature: predictor.signature, runtime: predictor.runtime });
} catch (error) {
  post({ type: 'load-failed', failure: failure(error) });
}
