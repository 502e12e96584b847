import type { BundleManifest, ImportOrigin, ModelSignature, TensorSpec } from '../bundle/bundle-manifest.js';
import { encodeContainer } from '../bundle/bundle-container.js';
import { MlInputError } from '../errors.js';
import { describeOnnxModel, type OnnxTensorInfo } from '../onnx/describe-onnx-model.js';
import { ONNX_RUNTIME_VERSION } from './onnx-runtime-module.js';
import type { OutputLabels } from './onnx-model-predictor.js';

/** The ONNX graph inside a bundle: an imported model's only network, a built-in model's second one. */
export const ONNX_FILE = 'model.onnx';

/** What an imported model keeps besides its graph. */
export interface ImportedPreprocessing {
  labels: OutputLabels | null;
}

export interface ImportOptions {
  fileName?: string | null;
  fileSha256: string;
  /** Class names, one per score of a classifier output. */
  labels?: string[];
}

const MAX_LABELS = 100_000;
const MAX_LABEL_LENGTH = 500;

/**
 * Wraps a user's ONNX file into a Fogline bundle: the V2 signature and the origin come from the
 * graph itself; labels attach to the one output with a score per label. The file is refused
 * (MlInputError) when it is not ONNX, is damaged or uses what ONNX Runtime cannot run — before
 * anything is stored. Whether it loads and runs is checked separately (see the import service).
 */
export function packageImportedModel(onnx: Uint8Array, options: ImportOptions): { bundle: Uint8Array; manifest: BundleManifest } {
  const described = describeOnnxModel(onnx);
  const inputs = described.inputs.map(toSpec);
  const outputs = described.outputs.map(toSpec);
  const labels = options.labels?.length ? attachLabels(outputs, options.labels) : null;
  const signature: ModelSignature = {
    inputs,
    outputs: labels
      ? [...outputs, { name: labels.output, datatype: 'BYTES', shape: [outputs.find((o) => o.name === labels.scores)!.shape[0]!] }]
      : outputs,
  };
  const origin: ImportOrigin = {
    source: 'imported',
    fileName: options.fileName ?? null,
    fileSha256: options.fileSha256,
    fileSizeBytes: onnx.byteLength,
    producerName: described.producerName,
    producerVersion: described.producerVersion,
    irVersion: described.irVersion,
    opsets: described.opsets,
    operators: described.operators,
  };
  const manifest: BundleManifest<ImportedPreprocessing, object> = {
    format: 'fogline-model-bundle',
    kind: 'imported',
    framework: 'onnx',
    frameworkVersion: ONNX_RUNTIME_VERSION,
    signature,
    preprocessing: { labels },
    metrics: {},
    training: { params: {}, backend: 'none', epochsRun: 0, bestEpoch: 0, history: [] },
    data: { sha256: options.fileSha256, points: 0 },
    referenceStats: { inputs: {}, outputs: {} },
    origin,
  };
  const bundle = encodeContainer(manifest as unknown as Record<string, unknown>, [{ name: ONNX_FILE, bytes: onnx }]);
  return { bundle, manifest };
}

function toSpec(info: OnnxTensorInfo): TensorSpec {
  if (info.datatype === 'BF16') {
    throw new MlInputError(
      'onnx-unsupported',
      `Tensor "${info.name}" is bfloat16, which ONNX Runtime for Node cannot take or return; export the model with float32 or float16 inputs and outputs.`,
    );
  }
  return { name: info.name, datatype: info.datatype, shape: info.shape };
}

function attachLabels(outputs: TensorSpec[], names: string[]): OutputLabels {
  if (names.length > MAX_LABELS) throw new MlInputError('bad-parameter', `At most ${MAX_LABELS} labels are allowed (got ${names.length}).`);
  const long = names.find((name) => name.length > MAX_LABEL_LENGTH);
  if (long !== undefined)
    throw new MlInputError('bad-parameter', `Labels are at most ${MAX_LABEL_LENGTH} characters; "${long.slice(0, 40)}…" is longer.`);
  const candidates = outputs.filter(
    (o) => o.shape.length === 2 && o.shape[1] === names.length && ['FP32', 'FP64', 'FP16'].includes(o.datatype),
  );
  if (candidates.length !== 1) {
    const shapes = outputs.map((o) => `${o.name} ${o.datatype} [${o.shape.join(', ')}]`).join('; ');
    throw new MlInputError(
      'bad-parameter',
      candidates.length === 0
        ? `${names.length} labels were given, but no output has ${names.length} float scores per row ([batch, ${names.length}]); outputs: ${shapes}.`
        : `${names.length} labels fit more than one output (${candidates.map((c) => c.name).join(', ')}); labels need exactly one.`,
    );
  }
  const scores = candidates[0]!.name;
  const taken = new Set(outputs.map((o) => o.name));
  const output = taken.has('label') ? `${scores}_label` : 'label';
  return { scores, output, names };
}
