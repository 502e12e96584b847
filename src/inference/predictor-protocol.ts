import type { BundleManifest, ModelSignature } from '../ml/bundle/bundle-manifest.js';
import type { InferInput, InferOutput } from '../ml/bundle/infer-tensors.js';
import type { MlProblem } from '../ml/errors.js';
import type { LoadBundleOptions } from '../ml/bundle/load-bundle.js';
import type { NetworkRuntime } from '../ml/tf/network.js';

/** What a predictor worker is started with (`workerData`): the verified bundle's bytes and how ONNX Runtime runs. */
export interface PredictorWorkerData {
  bytes: Uint8Array;
  options: LoadBundleOptions;
}

/** Main thread → predictor worker. */
export type ToPredictorWorker = { type: 'predict'; id: number; inputs: InferInput[] };

/** A failure as it crosses the thread boundary: a bad input keeps its problem code (a 400). */
export interface WorkerFailure {
  message: string;
  problem?: MlProblem;
}

/** Predictor worker → main thread. */
export type FromPredictorWorker =
  | { type: 'loaded'; manifest: BundleManifest; kind: string; signature: ModelSignature; runtime: NetworkRuntime }
  | { type: 'load-failed'; failure: WorkerFailure }
  | { type: 'result'; id: number; outputs: InferOutput[] }
  | { type: 'failed'; id: number; failure: WorkerFailure };
