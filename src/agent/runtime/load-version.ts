import type { DesiredDeployment } from '../../contracts/deployments.js';
import { type LoadBundleOptions, loadBundle } from '../../ml/bundle/load-bundle.js';
import type { LoadedVersion } from './model-slot.js';
import { warmUpInputs } from '../../inference/warm-up-inputs.js';
import { WorkerPredictor, type WorkerPredictorOptions } from '../../inference/worker-predictor.js';

export interface LoadOptions {
  /** 'worker': the version runs in its own worker thread; 'in-process': on the agent's event loop. */
  isolation?: 'worker' | 'in-process';
  /** Which runtime serves the network, and how ONNX Runtime runs (agent options --runtime, --onnx-threads, --onnx-provider). */
  bundle?: LoadBundleOptions;
  /** Told when a version's worker stops unexpectedly. */
  onCrash?: WorkerPredictorOptions['onCrash'];
}

/**
 * In-process measured better, so it is the default. On the 2-core build machine (load average
 * 6-7 from other work, 600-point forecaster, batch 1 requests, keep-alive HTTP from another
 * process, 3 s per point; /tmp experiment repeated 3 rounds, alternating designs):
 *   in-process, max batch 8: c=1 ~1,660 req/s, c=4 ~4,570, c=8 ~5,320
 *   worker,     max batch 8: c=1 ~640 req/s,   c=4 ~1,770, c=8 ~3,300
 * A predict of this model takes ~0.2 ms; handing each batch to a thread (structured clone both
 * ways plus waking it) costs more than that, and the HTTP work that stays on the main thread is
 * most of the time anyway. 'worker' stays available (crash isolation, models whose predict is
 * long enough to stall health checks), with crashes answered 503 and the worker restarted.
 */
export const DEFAULT_ISOLATION: NonNullable<LoadOptions['isolation']> = 'in-process';

/**
 * Loads verified bundle bytes and warms the predictor up with one dummy request, so that a
 * version takes traffic only once it has answered; a version that cannot is freed and refused.
 */
export async function loadVersion(bytes: Uint8Array, deployment: DesiredDeployment, options: LoadOptions = {}): Promise<LoadedVersion> {
  const started = performance.now();
  const isolation = options.isolation ?? DEFAULT_ISOLATION;
  const predictor =
    isolation === 'worker'
      ? await WorkerPredictor.start(bytes, { onCrash: options.onCrash, bundle: options.bundle })
      : await loadBundle(bytes, options.bundle);
  try {
    await predictor.predict(warmUpInputs(predictor.signature));
  } catch (error) {
    predictor.dispose();
    throw new Error(`${deployment.model} version ${deployment.version} failed its warm-up request: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return {
    version: deployment.version,
    sha256: deployment.sha256,
    predictor,
    model: deployment.model,
    loadSeconds: (performance.now() - started) / 1000,
  };
}
