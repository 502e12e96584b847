import { AnomalyPredictor } from '../anomaly/anomaly-predictor.js';
import { MlInputError } from '../errors.js';
import { type ImportedPreprocessing, ONNX_FILE } from '../onnx-runtime/imported-model.js';
import { OnnxModelPredictor } from '../onnx-runtime/onnx-model-predictor.js';
import { createOnnxSession, type OnnxRuntimeOptions } from '../onnx-runtime/onnx-session.js';
import { ForecasterPredictor } from '../forecast/forecaster-predictor.js';
import { ImageClassifierPredictor } from '../image/image-classifier-predictor.js';
import { type MlBackend, useBackend } from '../tf/backend.js';
import { loadModelFiles } from '../tf/model-artifacts.js';
import { decodeContainer } from './bundle-container.js';
import type { BundleManifest } from './bundle-manifest.js';
import type { Predictor } from './infer-tensors.js';
import { MODEL_FILE, WEIGHTS_FILE } from './package-model.js';
import { readBundleManifest } from './read-manifest.js';

export interface LoadedPredictor extends Predictor {
  manifest: BundleManifest;
}

export interface LoadBundleOptions {
  /** TensorFlow.js backend for tfjs networks. */
  backend?: MlBackend;
  /** How ONNX Runtime runs ONNX graphs. */
  onnx?: OnnxRuntimeOptions;
}

/**
 * Turns bundle bytes into a ready predictor in any process: verifies the container, rebuilds the
 * model and its preprocessing. Damaged, truncated or foreign bytes are refused with an MlInputError.
 *
 * @example
 * const predictor = await loadBundle(await fs.readFile('energy.fogline'));
 * const [forecast] = await predictor.predict([
 *   { name: 'history', shape: [1, 168], datatype: 'FP32', data: lastWeek },
 *   { name: 'start_time', shape: [1], datatype: 'INT64', data: [startUnixSeconds] },
 * ]);
 */
export async function loadBundle(bytes: Uint8Array, options: LoadBundleOptions = {}): Promise<LoadedPredictor> {
  const manifest = readBundleManifest(bytes);
  const { files } = decodeContainer(bytes);
  if (manifest.kind === 'imported') {
    const onnx = files.get(ONNX_FILE);
    if (!onnx) throw new MlInputError('bundle-corrupt', `The bundle lacks ${ONNX_FILE}.`);
    const session = await createOnnxSession(onnx, options.onnx);
    const predictor = new OnnxModelPredictor(session, manifest.signature, (manifest.preprocessing as ImportedPreprocessing).labels);
    return Object.assign(predictor, { manifest });
  }
  const modelJson = files.get(MODEL_FILE);
  const weights = files.get(WEIGHTS_FILE);
  if (!modelJson || !weights) throw new MlInputError('bundle-corrupt', `The bundle lacks ${MODEL_FILE} or ${WEIGHTS_FILE}.`);
  await useBackend(options.backend ?? 'wasm');
  const model = await loadModelFiles({ modelJson, weights });
  const predictor =
    manifest.kind === 'forecaster'
      ? ForecasterPredictor.fromManifest(model, manifest)
      : manifest.kind === 'anomaly-detector'
        ? AnomalyPredictor.fromManifest(model, manifest)
        : ImageClassifierPredictor.fromManifest(model, manifest);
  return Object.assign(predictor, { manifest });
}
