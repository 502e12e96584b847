import type { DesiredDeployment } from '../../contracts/deployments.js';
import { loadBundle } from '../../ml/bundle/load-bundle.js';
import type { LoadedVersion } from './model-slot.js';
import { warmUpInputs } from './warm-up-inputs.js';

/**
 * Loads verified bundle bytes and warms the predictor up with one dummy request, so that a
 * version takes traffic only once it has answered; a version that cannot is freed and refused.
 */
export async function loadVersion(bytes: Uint8Array, deployment: DesiredDeployment): Promise<LoadedVersion> {
  const started = performance.now();
  const predictor = await loadBundle(bytes);
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
