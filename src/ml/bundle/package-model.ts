import { version as tfjsVersion } from '@tensorflow/tfjs';
import { ONNX_FILE } from '../onnx-runtime/imported-model.js';
import { layersModelToOnnx, type OnnxExportOptions } from '../onnx/export-layers-model.js';
import type { tf } from '../tf/backend.js';
import { saveModelFiles } from '../tf/model-artifacts.js';
import { MODEL_FILE, WEIGHTS_FILE } from '../tf/model-file-names.js';
import type { TrainLoopResult } from '../tf/train-loop.js';
import { encodeContainer } from './bundle-container.js';
import type { BundleManifest, ModelKind } from './bundle-manifest.js';

export { MODEL_FILE, WEIGHTS_FILE };

const round = (x: number): number => Number(x.toPrecision(7));

/** The training record a manifest keeps: losses per epoch, without wall-clock times (which would change the bytes). */
export function trainingSummary(params: object, backend: string, result: TrainLoopResult): BundleManifest['training'] {
  return {
    params: { ...params },
    backend,
    epochsRun: result.history.length,
    bestEpoch: result.bestEpoch,
    history: result.history.map((e) => ({ epoch: e.epoch, loss: round(e.loss), valLoss: round(e.valLoss) })),
  };
}

/** What a training call reports beside its bundle: the full loss history with timings, and the backend. */
export interface TrainingOutcome {
  history: TrainLoopResult['history'];
  bestEpoch: number;
  stoppedEarly: boolean;
  trainingMs: number;
  backend: string;
}

export function trainingOutcome(result: TrainLoopResult, backend: string): TrainingOutcome {
  return {
    history: result.history,
    bestEpoch: result.bestEpoch,
    stoppedEarly: result.stoppedEarly,
    trainingMs: result.trainingMs,
    backend,
  };
}

/** A manifest as a trainer writes it; packing adds format, framework and files. */
export type ManifestBody<P = unknown, M = object> = Omit<BundleManifest<P, M>, 'format' | 'framework' | 'frameworkVersion' | 'files'>;

/**
 * The network's own tensors in the ONNX graph (not the V2 signature: scaling, calendar features,
 * softmax and decoding stay in TypeScript around it).
 */
const ONNX_TENSOR_NAMES: Record<Exclude<ModelKind, 'imported'>, OnnxExportOptions> = {
  forecaster: { inputName: 'features', outputName: 'scaled_forecast' },
  'anomaly-detector': { inputName: 'features', outputName: 'scaled_forecast' },
  'image-classifier': { inputName: 'scaled_pixels', outputName: 'logits' },
};

/**
 * Packs a model and its manifest into bundle bytes (see bundle-container.ts for the layout): the
 * tfjs network (model.json, weights.bin) and the same network as an ONNX graph (model.onnx), which
 * loadBundle serves with ONNX Runtime by default. The same model and manifest give the same bytes.
 */
export async function packageModel(model: tf.LayersModel, manifest: ManifestBody<unknown, object>): Promise<Uint8Array> {
  if (manifest.kind === 'imported') throw new Error('Imported models are packed by packageImportedModel, not packageModel.');
  const files = await saveModelFiles(model);
  const onnx = layersModelToOnnx(model, ONNX_TENSOR_NAMES[manifest.kind]);
  return encodeContainer({ ...manifest, format: 'fogline-model-bundle', framework: 'tfjs', frameworkVersion: tfjsVersion.tfjs }, [
    { name: MODEL_FILE, bytes: files.modelJson },
    { name: WEIGHTS_FILE, bytes: files.weights },
    { name: ONNX_FILE, bytes: onnx },
  ]);
}
