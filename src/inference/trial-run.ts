import type { ModelSignature } from '../ml/bundle/bundle-manifest.js';
import { isMlInputError } from '../ml/errors.js';
import { warmUpInputs } from './warm-up-inputs.js';
import { WorkerPredictor } from './worker-predictor.js';

/**
 * Proves that a bundle loads and answers, in a worker thread with a time limit, before it is
 * registered: a graph ONNX Runtime cannot load, or that crashes or hangs on a batch of one, is
 * refused with the reason instead of reaching an agent. The worker is gone when this returns.
 */
export async function trialRun(bundle: Uint8Array, signature: ModelSignature, timeoutMs: number): Promise<void> {
  const predictor = await WorkerPredictor.start(bundle, { loadTimeoutMs: timeoutMs, timeoutMs, maxRestartsPerMinute: 0 }).catch(
    (error: unknown) => {
      throw new TrialRunError(`it does not load: ${reason(error)}`);
    },
  );
  try {
    await predictor.predict(warmUpInputs(signature));
  } catch (error) {
    throw new TrialRunError(`it loads but fails on a batch of one filled with zeros: ${reason(error)}`);
  } finally {
    predictor.dispose();
  }
}

export class TrialRunError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrialRunError';
  }
}

function reason(error: unknown): string {
  if (isMlInputError(error)) return error.message;
  return error instanceof Error ? error.message : String(error);
}
