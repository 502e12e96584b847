import type { tf } from '../tf/backend.js';
import type { AttributeValue } from './onnx-builders.js';

/** One ONNX node, before serialisation (the exporter renames the last output to the model's output). */
export interface NodeSpec {
  opType: string;
  inputs: string[];
  outputs: string[];
  name: string;
  attributes?: Record<string, AttributeValue>;
}

export type Initializer =
  { name: string; kind: 'float'; dims: number[]; values: Float32Array } | { name: string; kind: 'int64'; values: number[] };

/**
 * Where the graph stands: the value flowing on, and its memory layout. tfjs images are NHWC;
 * ONNX Conv and MaxPool take NCHW, so images switch to NCHW for runs of those layers and back
 * before anything that reads the element order (Flatten, Reshape, Dense).
 */
export interface GraphState {
  value: string;
  /** The tfjs shape of `value` (batch first, as null): the previous layer's output shape. */
  shape: (number | null)[];
  layout: 'tfjs' | 'nchw';
  nodes: NodeSpec[];
  initializers: Initializer[];
}

type LayerConfig = Record<string, unknown>;

const ACTIVATIONS: Record<string, string | null> = {
  linear: null,
  relu: 'Relu',
  elu: 'Elu',
  tanh: 'Tanh',
  sigmoid: 'Sigmoid',
  softmax: 'Softmax',
};

function unsupportedConfig(layer: tf.layers.Layer, what: string): Error {
  return new Error(`Layer "${layer.name}" (${layer.getClassName()}) has ${what}, which the ONNX export does not support.`);
}

function add(state: GraphState, node: Omit<NodeSpec, 'outputs'>): void {
  const output = `${node.name}_out`;
  state.nodes.push({ ...node, outputs: [output] });
  state.value = output;
}

function addActivation(state: GraphState, layer: tf.layers.Layer, activation: unknown): void {
  const name = String(activation ?? 'linear');
  if (!(name in ACTIVATIONS)) throw unsupportedConfig(layer, `activation "${name}"`);
  const opType = ACTIVATIONS[name];
  // tfjs Softmax is over the last axis; ONNX 13's default axis (-1) is the same.
  if (opType) add(state, { opType, inputs: [state.value], name: `${layer.name}_${name}` });
}

function toLayout(state: GraphState, layout: GraphState['layout'], layerName: string): void {
  if (state.layout === layout) return;
  const perm = layout === 'nchw' ? [0, 3, 1, 2] : [0, 2, 3, 1];
  add(state, { opType: 'Transpose', inputs: [state.value], name: `${layerName}_to_${layout}`, attributes: { perm } });
  state.layout = layout;
}

function weightValues(layer: tf.layers.Layer): Float32Array[] {
  return layer.getWeights().map((w) => w.dataSync() as Float32Array);
}

function pairOf(value: unknown): [number, number] {
  return Array.isArray(value) ? [Number(value[0]), Number(value[1])] : [Number(value), Number(value)];
}

/** ONNX pads [top, left, bottom, right] for TensorFlow's padding: 'same' puts the odd pixel at the end. */
function padsFor(padding: unknown, inputHW: [number, number], kernel: [number, number], strides: [number, number]): number[] {
  if (padding === 'valid') return [0, 0, 0, 0];
  const totals = inputHW.map((size, i) => Math.max((Math.ceil(size / strides[i]!) - 1) * strides[i]! + kernel[i]! - size, 0));
  const before = totals.map((t) => Math.floor(t / 2));
  return [...before, ...totals.map((t, i) => t - before[i]!)];
}

function spatialInput(state: GraphState, layer: tf.layers.Layer, config: LayerConfig): [number, number] {
  if (config.dataFormat !== undefined && config.dataFormat !== 'channelsLast')
    throw unsupportedConfig(layer, `dataFormat "${String(config.dataFormat)}"`);
  if (config.padding !== 'same' && config.padding !== 'valid') throw unsupportedConfig(layer, `padding "${String(config.padding)}"`);
  const { shape } = state;
  if (shape.length !== 4 || shape[1] == null || shape[2] == null) throw unsupportedConfig(layer, 'an input that is not a fixed-size image');
  return [shape[1], shape[2]];
}

function dense(state: GraphState, layer: tf.layers.Layer, config: LayerConfig): void {
  if (state.shape.length !== 2) throw unsupportedConfig(layer, 'an input of more than one dimension (add a Flatten layer first)');
  toLayout(state, 'tfjs', layer.name);
  const [kernel, bias] = weightValues(layer);
  const units = Number(config.units);
  const inputs = [state.value, `${layer.name}.kernel`];
  // Gemm: Y = X·W (+ B); tfjs keeps its kernel as [inputs, units], which is W as it stands.
  state.initializers.push({ name: `${layer.name}.kernel`, kind: 'float', dims: [kernel!.length / units, units], values: kernel! });
  if (bias) {
    state.initializers.push({ name: `${layer.name}.bias`, kind: 'float', dims: [units], values: bias });
    inputs.push(`${layer.name}.bias`);
  }
  add(state, { opType: 'Gemm', inputs, name: layer.name });
  addActivation(state, layer, config.activation);
}

/** tfjs conv kernels are [kh, kw, in, out]; ONNX wants [out, in, kh, kw]. */
function toOihw(kernel: Float32Array, [kh, kw]: [number, number], inChannels: number, outChannels: number): Float32Array {
  const out = new Float32Array(kernel.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < inChannels; i++)
        for (let o = 0; o < outChannels; o++)
          out[((o * inChannels + i) * kh + y) * kw + x] = kernel[((y * kw + x) * inChannels + i) * outChannels + o]!;
  return out;
}

function conv2d(state: GraphState, layer: tf.layers.Layer, config: LayerConfig): void {
  const inputHW = spatialInput(state, layer, config);
  const dilation = pairOf(config.dilationRate ?? 1);
  if (dilation[0] !== 1 || dilation[1] !== 1) throw unsupportedConfig(layer, `dilation ${dilation.join('×')}`);
  const kernelShape = pairOf(config.kernelSize);
  const strides = pairOf(config.strides ?? 1);
  const outChannels = Number(config.filters);
  const inChannels = state.shape[3]!;
  const [kernel, bias] = weightValues(layer);
  toLayout(state, 'nchw', layer.name);
  const inputs = [state.value, `${layer.name}.kernel`];
  state.initializers.push({
    name: `${layer.name}.kernel`,
    kind: 'float',
    dims: [outChannels, inChannels, ...kernelShape],
    values: toOihw(kernel!, kernelShape, inChannels, outChannels),
  });
  if (bias) {
    state.initializers.push({ name: `${layer.name}.bias`, kind: 'float', dims: [outChannels], values: bias });
    inputs.push(`${layer.name}.bias`);
  }
  const pads = padsFor(config.padding, inputHW, kernelShape, strides);
  add(state, { opType: 'Conv', inputs, name: layer.name, attributes: { kernel_shape: kernelShape, strides, pads } });
  addActivation(state, layer, config.activation);
}

function maxPooling2d(state: GraphState, layer: tf.layers.Layer, config: LayerConfig): void {
  const inputHW = spatialInput(state, layer, config);
  const kernelShape = pairOf(config.poolSize);
  const strides = pairOf(config.strides ?? config.poolSize);
  toLayout(state, 'nchw', layer.name);
  // MaxPool ignores padded cells, as TensorFlow's 'same' max-pool does.
  const pads = padsFor(config.padding, inputHW, kernelShape, strides);
  add(state, { opType: 'MaxPool', inputs: [state.value], name: layer.name, attributes: { kernel_shape: kernelShape, strides, pads } });
}

function flatten(state: GraphState, layer: tf.layers.Layer, config: LayerConfig): void {
  if (config.dataFormat !== undefined && config.dataFormat !== 'channelsLast')
    throw unsupportedConfig(layer, `dataFormat "${String(config.dataFormat)}"`);
  toLayout(state, 'tfjs', layer.name);
  add(state, { opType: 'Flatten', inputs: [state.value], name: layer.name, attributes: { axis: 1 } });
}

function reshape(state: GraphState, layer: tf.layers.Layer, config: LayerConfig): void {
  toLayout(state, 'tfjs', layer.name);
  // 0 copies the batch dimension from the input (opset 13 Reshape), so the batch stays dynamic.
  const shape = [0, ...(config.targetShape as number[])];
  state.initializers.push({ name: `${layer.name}.shape`, kind: 'int64', values: shape });
  add(state, { opType: 'Reshape', inputs: [state.value, `${layer.name}.shape`], name: layer.name });
}

/**
 * Appends the ONNX nodes for one tfjs layer. Dropout is the identity at inference. Throws an
 * Error naming the layer for any other layer class or an option the export cannot reproduce.
 */
export function convertLayer(state: GraphState, layer: tf.layers.Layer): void {
  convertOne(state, layer, layer.getConfig() as LayerConfig);
  state.shape = layer.outputShape as (number | null)[];
}

function convertOne(state: GraphState, layer: tf.layers.Layer, config: LayerConfig): void {
  switch (layer.getClassName()) {
    case 'InputLayer':
    case 'Dropout':
      return;
    case 'Dense':
      return dense(state, layer, config);
    case 'Conv2D':
      return conv2d(state, layer, config);
    case 'MaxPooling2D':
      return maxPooling2d(state, layer, config);
    case 'Flatten':
      return flatten(state, layer, config);
    case 'Reshape':
      return reshape(state, layer, config);
    default:
      throw new Error(
        `Layer "${layer.name}" is a ${layer.getClassName()}; the ONNX export handles Dense, Conv2D, MaxPooling2D, Flatten, Reshape and Dropout.`,
      );
  }
}
