import { AnomalyPredictor } from '../anomaly/anomaly-predictor.js';
import { MlInputError } from '../errors.js';
import { type ImportedPreprocessing, ONNX_FILE } from '../onnx-runtime/imported-model.js';
import { OnnxModelPredictor } from '../onnx-runtime/onnx-model-predictor.js';
import { OnnxNetwork } from '../onnx-runtime/onnx-network.js';
import { onnxRuntimeProblem } from '../onnx-runtime/onnx-runtime-module.js';
import { createOnnxSession, type OnnxRuntimeOptions } from '../onnx-runtime/onnx-session.js';
import { ForecasterPredictor } from '../forecast/forecaster-predictor.js';
import { ImageClassifierPredictor } from '../image/image-classifier-predictor.js';
import type { MlBackend } from '../tf/backend.js';
import { MODEL_FILE, WEIGHTS_FILE } from '../tf/model-file-names.js';
import type { Network, NetworkRuntime } from '../tf/network.js';
import { decodeContainer } from './bundle-container.js';
import type { BundleManifest } from './bundle-manifest.js';
import type { Predictor } from './infer-tensors.js';
import { readBundleManifest } from './read-manifest.js';

export interface LoadedPredictor extends Predictor {
  manifest: BundleManifest;
  /** The engine that runs the network: 'onnx' (ONNX Runtime) or 'tfjs' (TensorFlow.js). */
  runtime: NetworkRuntime;
}

export interface LoadBundleOptions {
  /**
   * Which engine runs a built-in model's network. 'onnx' (default): ONNX Runtime on the bundle's
   * model.onnx, falling back to tfjs for bundles packed before it was written and where ONNX
   * Runtime does not load (the predictor's `runtime` says which ran); 'tfjs': always
   * TensorFlow.js. Imported models run on ONNX Runtime either way.
   */
  runtime?: NetworkRuntime;
  /** TensorFlow.js backend for tfjs networks. */
  backend?: MlBackend;
  /** How ONNX Runtime runs ONNX graphs. */
  onnx?: OnnxRuntimeOptions;
}

/**
 * Turns bundle bytes into a ready predictor in any process: verifies the container, rebuilds the
 * network and its preprocessing. Damaged, truncated or foreign bytes are refused with an MlInputError.
 *
 * @example
 * const predictor = await loadBundle(await fs.readFile('energy.fogline'));
 * const [forecast] = await predictor.predict([
 *   { name: 'history', shape: [1, 168], datatype: 'FP32', data: lastWeek },
 *   { name: 'start_time', shape: [1], datatype: 'INT64', data: [startUnixSeconds] },
 * ]);
 */
export async function loadBundle(
  bytes: Uint8Array,
  options: LoadBundleOptions = {},
): Promise<LoadedPredictor & { runtime: NetworkRuntime }> {
  const manifest = readBundleManifest(bytes);
  const { files } = decodeContainer(bytes);
  if (manifest.kind === 'imported') {
    const onnx = files.get(ONNX_FILE);
    if (!onnx) throw new MlInputError('bundle-corrupt', `The bundle lacks ${ONNX_FILE}.`);
    const session = await createOnnxSession(onnx, options.onnx);
    const predictor = new OnnxModelPredictor(session, manifest.signature, (manifest.preprocessing as ImportedPreprocessing).labels);
    return Object.assign(predictor, { manifest, runtime: 'onnx' as const });
  }
  const network = await loadNetwork(files, options);
  const predictor =
    manifest.kind === 'forecaster'
      ? ForecasterPredictor.fromManifest(network, manifest)
      : manifest.kind === 'anomaly-detector'
        ? AnomalyPredictor.fromManifest(network, manifest)
        : ImageClassifierPredictor.fromManifest(network, manifest);
  return Object.assign(predictor, { manifest });
}

async function loadNetwork(files: Map<string, Uint8Array>, options: LoadBundleOptions): Promise<Network> {
  const onnx = files.get(ONNX_FILE);
  // 'onnx' is a preference: bundles packed before model.onnx, and machines without ONNX Runtime, serve on tfjs.
  if (onnx && options.runtime !== 'tfjs' && (await onnxRuntimeProblem()) === null) return OnnxNetwork.load(onnx, options.onnx);
  const modelJson = files.get(MODEL_FILE);
  const weights = files.get(WEIGHTS_FILE);
  if (!modelJson || !weights) throw new MlInputError('bundle-corrupt', `The bundle lacks ${MODEL_FILE} or ${WEIGHTS_FILE}.`);
  // Imported only here, so a process serving ONNX graphs never loads TensorFlow.js.
  const { loadTfjsNetwork } = await import('../tf/tfjs-network.js');
  return loadTfjsNetwork({ modelJson, weights }, options.backend);
}
