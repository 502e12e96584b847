import type * as ort from 'onnxruntime-node';
import type { ModelSignature } from '../bundle/bundle-manifest.js';
import type { InferInput, InferOutput, Predictor } from '../bundle/infer-tensors.js';
import { MlInputError } from '../errors.js';
import { fromOrtTensor, toOrtTensor } from './onnx-tensors.js';

/** Class names for one classifier output: the predicted class comes back as a BYTES output beside it. */
export interface OutputLabels {
  /** The output holding one score per class ([batch, classes]). */
  scores: string;
  /** The BYTES output added beside it ([batch]). */
  output: string;
  names: string[];
}

/**
 * A user's ONNX model as it is: the request's tensors go to ONNX Runtime unchanged and its outputs
 * come back as V2 tensors, plus the predicted class name when the model was imported with labels.
 */
export class OnnxModelPredictor implements Predictor {
  readonly kind = 'imported';

  constructor(
    private readonly session: ort.InferenceSession,
    readonly signature: ModelSignature,
    private readonly labels: OutputLabels | null,
  ) {}

  async predict(inputs: InferInput[]): Promise<InferOutput[]> {
    const feeds: Record<string, ort.Tensor> = {};
    for (const spec of this.signature.inputs) feeds[spec.name] = toOrtTensor(inputs, spec);
    const names = new Set(this.signature.inputs.map((spec) => spec.name));
    const unknown = inputs.find((input) => !names.has(input.name));
    if (unknown) {
      throw new MlInputError('bad-input', `The model has no input "${unknown.name}"; it takes ${[...names].join(', ')}.`);
    }
    const results = await this.session.run(feeds);
    const outputs = this.session.outputNames.map((name) => fromOrtTensor(name, results[name]!));
    if (this.labels) outputs.push(labelOutput(outputs, this.labels));
    return outputs;
  }

  dispose(): void {
    void this.session.release();
  }
}

function labelOutput(outputs: InferOutput[], labels: OutputLabels): InferOutput {
  const scores = outputs.find((output) => output.name === labels.scores);
  const classes = labels.names.length;
  if (!scores || scores.shape.length !== 2 || scores.shape[1] !== classes) {
    throw new Error(`Output "${labels.scores}" does not have ${classes} scores per row, one per label.`);
  }
  const rows = scores.shape[0] ?? 0;
  const data = scores.data as number[];
  const names = new Array<string>(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (data[r * classes + c]! > data[r * classes + best]!) best = c;
    names[r] = labels.names[best]!;
  }
  return { name: labels.output, shape: [rows], datatype: 'BYTES', data: names };
}
