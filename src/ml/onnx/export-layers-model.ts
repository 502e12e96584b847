import { tf } from '../tf/backend.js';
import { convertLayer, type GraphState } from './layer-converters.js';
import { floatTensorProto, graphProto, int64TensorProto, modelProto, nodeProto, tensorValueInfo } from './onnx-builders.js';
import { FLOAT_ELEMENT_TYPE } from './onnx-schema.js';

/** The opset the export writes: old enough for every runtime in use, new enough for Softmax over the last axis. */
export const EXPORT_OPSET = 13;
/** IR version 7 is the one that goes with opset 13 (ONNX 1.8). */
export const EXPORT_IR_VERSION = 7;

export interface OnnxExportOptions {
  inputName: string;
  outputName: string;
  producerVersion?: string;
}

/**
 * Writes a Sequential tfjs model (the dense nets and image classifiers Fogline trains) as an ONNX
 * model: opset 13, float32, one input and one output with a dynamic 'batch' first dimension. Only
 * the inference graph: Dropout becomes the identity. The same model and options give the same bytes.
 * Throws an Error naming the layer when a layer or option has no ONNX equivalent here.
 *
 * @example
 * const onnx = layersModelToOnnx(model, { inputName: 'pixels', outputName: 'logits' });
 * const session = await ort.InferenceSession.create(onnx);
 */
export function layersModelToOnnx(model: tf.LayersModel, options: OnnxExportOptions): Uint8Array {
  if (!(model instanceof tf.Sequential))
    throw new Error(`Model "${model.name}" is not a Sequential model; the ONNX export handles Sequential models only.`);
  if (options.inputName === options.outputName)
    throw new Error(`The input and output need different names (both are "${options.inputName}").`);
  const input = model.inputs[0]!;
  const output = model.outputs[0]!;
  for (const [what, value] of [
    ['input', input],
    ['output', output],
  ] as const) {
    if (value.dtype !== 'float32') throw new Error(`The model's ${what} is ${value.dtype}; the ONNX export writes float32 models only.`);
    if (value.shape.slice(1).some((d) => d == null))
      throw new Error(`The model's ${what} shape ${JSON.stringify(value.shape)} has a free dimension besides the batch.`);
  }

  const state: GraphState = { value: options.inputName, shape: input.shape, layout: 'tfjs', nodes: [], initializers: [] };
  for (const layer of model.layers) convertLayer(state, layer);
  if (state.layout !== 'tfjs')
    throw new Error(
      'The model ends in a convolution or pooling layer; add a Flatten layer (or export a model that ends in a Dense layer).',
    );
  const last = state.nodes.at(-1);
  if (!last) throw new Error(`Model "${model.name}" has no layers that compute anything.`);
  last.outputs = [options.outputName];

  const graph = graphProto({
    name: model.name,
    nodes: state.nodes.map((n) => nodeProto(n.opType, n.inputs, n.outputs, n.name, n.attributes)),
    initializers: state.initializers.map((t) =>
      t.kind === 'float' ? floatTensorProto(t.name, t.dims, t.values) : int64TensorProto(t.name, t.values),
    ),
    inputs: [tensorValueInfo(options.inputName, FLOAT_ELEMENT_TYPE, ['batch', ...(input.shape.slice(1) as number[])])],
    outputs: [tensorValueInfo(options.outputName, FLOAT_ELEMENT_TYPE, ['batch', ...(output.shape.slice(1) as number[])])],
  });
  return modelProto(
    {
      irVersion: EXPORT_IR_VERSION,
      opsets: [{ domain: '', version: EXPORT_OPSET }],
      producerName: 'fogline',
      ...(options.producerVersion ? { producerVersion: options.producerVersion } : {}),
    },
    graph,
  );
}
