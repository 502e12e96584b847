import { version as tfjsVersion } from '@tensorflow/tfjs';
import type { tf } from '../tf/backend.js';
import { saveModelFiles } from '../tf/model-artifacts.js';
import type { TrainLoopResult } from '../tf/train-loop.js';
import { encodeContainer } from './bundle-container.js';
import type { BundleManifest } from './bundle-manifest.js';

export const MODEL_FILE = 'model.json';
export const WEIGHTS_FILE = 'weights.bin';

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

/** Packs a model and its manifest into bundle bytes (see bundle-container.ts for the layout). */
export async function packageModel(model: tf.LayersModel, manifest: ManifestBody<unknown, object>): Promise<Uint8Array> {
  const files = await saveModelFiles(model);
  return encodeContainer({ ...manifest, format: 'fogline-model-bundle', framework: 'tfjs', frameworkVersion: tfjsVersion.tfjs }, [
    { name: MODEL_FILE, bytes: files.modelJson },
    { name: WEIGHTS_FILE, bytes: files.weights },
  ]);
}
