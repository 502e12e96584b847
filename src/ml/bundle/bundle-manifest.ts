import type { DataFingerprint } from '../stats/fingerprint.js';
import type { ReferenceStats } from '../stats/reference-stats.js';
import type { BundleFileEntry } from './bundle-container.js';

/** Open Inference Protocol datatypes the bundles use. */
export type TensorDatatype = 'FP32' | 'INT64' | 'BOOL';

/** One input or output, as the Open Inference Protocol describes tensors (-1: any size). */
export interface TensorSpec {
  name: string;
  datatype: TensorDatatype;
  shape: number[];
}

export interface ModelSignature {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

export type ModelKind = 'forecaster' | 'anomaly-detector' | 'image-classifier';

/** Loss per epoch, without timings: the manifest must be the same bytes whenever the same model is packed. */
export interface TrainingSummary {
  params: Record<string, unknown>;
  backend: string;
  epochsRun: number;
  bestEpoch: number;
  history: Array<{ epoch: number; loss: number; valLoss: number }>;
}

/** The manifest at the head of every bundle. */
export interface BundleManifest<Preprocessing = unknown, Metrics = object> {
  format: 'fogline-model-bundle';
  kind: ModelKind;
  framework: 'tfjs';
  frameworkVersion: string;
  signature: ModelSignature;
  /** Everything between raw inputs and the network (scaler, window, feature recipe). */
  preprocessing: Preprocessing;
  metrics: Metrics;
  training: TrainingSummary;
  /** The exact data the model was trained on. */
  data: DataFingerprint;
  /** Training-time distribution of each input and output, for drift detection. */
  referenceStats: { inputs: Record<string, ReferenceStats>; outputs: Record<string, ReferenceStats> };
  /** Files in the container (filled in when the bundle is encoded). */
  files?: BundleFileEntry[];
}
