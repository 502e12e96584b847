import type { DataFingerprint } from '../stats/fingerprint.js';
import type { ReferenceStats } from '../stats/reference-stats.js';
import type { BundleFileEntry } from './bundle-container.js';

/** Open Inference Protocol datatypes (built-in models use FP32, INT64 and BOOL; imported ONNX models any). */
export const TENSOR_DATATYPES = [
  'FP32',
  'FP64',
  'FP16',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'BOOL',
  'BYTES',
] as const;
export type TensorDatatype = (typeof TENSOR_DATATYPES)[number];

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

/** 'imported': a user's own ONNX model, served as it is (no Fogline preprocessing). */
export type ModelKind = 'forecaster' | 'anomaly-detector' | 'image-classifier' | 'imported';

/** Which engine runs a bundle's network: TensorFlow.js weights, or an ONNX graph in ONNX Runtime. */
export type ModelFramework = 'tfjs' | 'onnx';

/** Where an imported model came from, read from the ONNX file itself. */
export interface ImportOrigin {
  source: 'imported';
  fileName: string | null;
  /** sha256 of the ONNX file as uploaded (the bundle around it has its own digest). */
  fileSha256: string;
  fileSizeBytes: number;
  producerName: string;
  producerVersion: string;
  irVersion: number;
  opsets: { domain: string; version: number }[];
  operators: string[];
}

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
  framework: ModelFramework;
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
  /** Imported models only: the ONNX file's origin. */
  origin?: ImportOrigin;
  /** Files in the container (filled in when the bundle is encoded). */
  files?: BundleFileEntry[];
}
