import {
  AttributeField,
  AttributeType,
  DimensionField,
  FLOAT_ELEMENT_TYPE,
  GraphField,
  INT64_ELEMENT_TYPE,
  ModelField,
  NodeField,
  OpsetField,
  ShapeField,
  StringEntryField,
  TensorField,
  TensorTypeField,
  TypeField,
  ValueInfoField,
} from './onnx-schema.js';
import { ProtoWriter } from './protobuf-wire.js';

/** An attribute value: a number is an INT unless wrapped as `{ float }`. */
export type AttributeValue = number | { float: number } | string | readonly number[];

function attribute(name: string, value: AttributeValue): ProtoWriter {
  const out = new ProtoWriter().string(AttributeField.name, name);
  if (typeof value === 'number') return out.int(AttributeField.i, value).int(AttributeField.type, AttributeType.int);
  if (typeof value === 'string') return out.string(AttributeField.s, value).int(AttributeField.type, AttributeType.string);
  if ('float' in value) return out.float32(AttributeField.f, value.float).int(AttributeField.type, AttributeType.float);
  for (const v of value) out.int(AttributeField.ints, v);
  return out.int(AttributeField.type, AttributeType.ints);
}

export function nodeProto(
  opType: string,
  inputs: readonly string[],
  outputs: readonly string[],
  name: string,
  attributes: Record<string, AttributeValue> = {},
): ProtoWriter {
  const out = new ProtoWriter();
  for (const input of inputs) out.string(NodeField.input, input);
  for (const output of outputs) out.string(NodeField.output, output);
  out.string(NodeField.name, name).string(NodeField.opType, opType);
  // Sorted, so the same attributes give the same bytes whatever order the caller wrote them in.
  for (const key of Object.keys(attributes).sort()) out.message(NodeField.attribute, attribute(key, attributes[key]!));
  return out;
}

/** A float32 initializer, little-endian raw_data (the same bytes on any machine). */
export function floatTensorProto(name: string, dims: readonly number[], values: ArrayLike<number>): ProtoWriter {
  const raw = new Uint8Array(values.length * 4);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  return tensorProto(name, dims, FLOAT_ELEMENT_TYPE, raw);
}

export function int64TensorProto(name: string, values: readonly number[]): ProtoWriter {
  const raw = new Uint8Array(values.length * 8);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return tensorProto(name, [values.length], INT64_ELEMENT_TYPE, raw);
}

function tensorProto(name: string, dims: readonly number[], elementType: number, raw: Uint8Array): ProtoWriter {
  const out = new ProtoWriter();
  for (const d of dims) out.int(TensorField.dims, d);
  return out.int(TensorField.dataType, elementType).string(TensorField.name, name).bytes(TensorField.rawData, raw);
}

/** A tensor graph input/output; a string dimension is symbolic (dynamic), null an unnamed dynamic one. */
export function tensorValueInfo(name: string, elementType: number, shape: readonly (number | string | null)[]): ProtoWriter {
  const dims = new ProtoWriter();
  for (const d of shape) {
    const dim = new ProtoWriter();
    if (typeof d === 'number') dim.int(DimensionField.dimValue, d);
    else if (typeof d === 'string') dim.string(DimensionField.dimParam, d);
    dims.message(ShapeField.dim, dim);
  }
  const tensorType = new ProtoWriter().int(TensorTypeField.elemType, elementType).message(TensorTypeField.shape, dims);
  return new ProtoWriter()
    .string(ValueInfoField.name, name)
    .message(ValueInfoField.type, new ProtoWriter().message(TypeField.tensorType, tensorType));
}

export interface GraphParts {
  name: string;
  nodes: readonly ProtoWriter[];
  initializers: readonly ProtoWriter[];
  inputs: readonly ProtoWriter[];
  outputs: readonly ProtoWriter[];
}

export function graphProto(parts: GraphParts): ProtoWriter {
  const out = new ProtoWriter();
  for (const node of parts.nodes) out.message(GraphField.node, node);
  out.string(GraphField.name, parts.name);
  for (const tensor of parts.initializers) out.message(GraphField.initializer, tensor);
  for (const input of parts.inputs) out.message(GraphField.input, input);
  for (const output of parts.outputs) out.message(GraphField.output, output);
  return out;
}

export interface ModelHeader {
  irVersion: number;
  opsets: readonly { domain: string; version: number }[];
  producerName: string;
  producerVersion?: string;
  docString?: string;
  metadata?: Record<string, string>;
}

/** A ModelProto with its fields in number order, as protobuf libraries write them. */
export function modelProto(header: ModelHeader, graph: ProtoWriter): Uint8Array {
  const out = new ProtoWriter().int(ModelField.irVersion, header.irVersion).string(ModelField.producerName, header.producerName);
  if (header.producerVersion) out.string(ModelField.producerVersion, header.producerVersion);
  if (header.docString) out.string(ModelField.docString, header.docString);
  out.message(ModelField.graph, graph);
  for (const opset of header.opsets)
    out.message(ModelField.opsetImport, new ProtoWriter().string(OpsetField.domain, opset.domain).int(OpsetField.version, opset.version));
  for (const key of Object.keys(header.metadata ?? {}).sort())
    out.message(
      ModelField.metadataProps,
      new ProtoWriter().string(StringEntryField.key, key).string(StringEntryField.value, header.metadata![key]!),
    );
  return out.finish();
}
