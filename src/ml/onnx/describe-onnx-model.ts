import { MlInputError } from '../errors.js';
import {
  AttributeField,
  DATA_LOCATION_EXTERNAL,
  DimensionField,
  GraphField,
  ModelField,
  NodeField,
  onnxElementTypeName,
  onnxElementTypeToDatatype,
  OpsetField,
  type OipDatatype,
  ShapeField,
  StringEntryField,
  TensorField,
  TensorTypeField,
  TypeField,
  ValueInfoField,
} from './onnx-schema.js';
import { readFields, signedOf, utf8Of, type WireField, WireFormatError } from './protobuf-wire.js';

export interface OnnxTensorInfo {
  name: string;
  datatype: OipDatatype;
  /** -1 where the dimension is dynamic (named by `dimNames`, or not named at all). */
  shape: number[];
  /** The symbolic name of each dynamic dimension ('batch', 'N', …); null for fixed or unnamed ones. */
  dimNames: (string | null)[];
}

export interface OnnxModelDescription {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  domain: string;
  modelVersion: number;
  docString: string;
  opsets: { domain: string; version: number }[];
  graphName: string;
  /** The graph inputs a caller feeds (inputs that are also initializers are weights, so left out). */
  inputs: OnnxTensorInfo[];
  outputs: OnnxTensorInfo[];
  /** Distinct operators, subgraphs included: 'Gemm' for ai.onnx, 'com.microsoft:FusedConv' otherwise; sorted. */
  operators: string[];
  metadata: Record<string, string>;
}

/**
 * What onnxruntime-node 1.31 runs: ai.onnx opsets 7–26 (older ones load with a warning and only
 * "may run"; newer ones are refused) and IR versions up to 13. Measured by loading stamped models.
 */
export const SUPPORTED_ONNX_OPSETS = { min: 7, max: 26 } as const;
export const SUPPORTED_ONNX_IR_VERSIONS = { min: 3, max: 13 } as const;

/**
 * The fields read from tensors and attributes. Their values (float_data, floats, …) may be written
 * one field per number, so listing them all would cost memory in proportion to the weights.
 */
const TENSOR_FIELDS = new Set<number>([TensorField.name, TensorField.dataLocation, TensorField.externalData]);
const ATTRIBUTE_FIELDS = new Set<number>([AttributeField.t, AttributeField.g, AttributeField.graphs]);
const SPARSE_VALUES = new Set<number>([1]);

/** Subgraphs (If/Loop/Scan bodies) nest; deeper than this is an attack or a broken file. */
const MAX_SUBGRAPH_DEPTH = 32;

const RE_EXPORT = 'Export the model again (for PyTorch: torch.onnx.export; for TensorFlow: tf2onnx) and upload the .onnx file.';

function invalid(message: string): MlInputError {
  return new MlInputError('onnx-invalid', message);
}

function unsupported(message: string): MlInputError {
  return new MlInputError('onnx-unsupported', message);
}

function fieldsOf(bytes: Uint8Array, what: string, keep?: ReadonlySet<number>): WireField[] {
  try {
    return readFields(bytes, keep);
  } catch (error) {
    if (!(error instanceof WireFormatError)) throw error;
    // Protobuf writes fields in number order, so a real model starts with ir_version (tag 0x08).
    if (error.truncated && what === 'model' && bytes[0] === 0x08)
      throw new MlInputError('onnx-truncated', `The ONNX file is cut short (${error.message}) Upload the whole file again.`);
    throw invalid(`The ${what} is not valid ONNX (${error.message}) ${RE_EXPORT}`);
  }
}

function bytesOf(field: WireField, what: string): Uint8Array {
  if (field.wireType !== 2) throw invalid(`The ${what} has the wrong protobuf type; this is not an ONNX file. ${RE_EXPORT}`);
  return field.bytes;
}

function stringOf(field: WireField, what: string): string {
  return utf8Of(bytesOf(field, what));
}

function intOf(field: WireField, what: string): number {
  if (field.wireType !== 0) throw invalid(`The ${what} has the wrong protobuf type; this is not an ONNX file. ${RE_EXPORT}`);
  return signedOf(field.value);
}

function lastString(fields: WireField[], number: number, what: string): string {
  const field = fields.findLast((f) => f.number === number);
  return field ? stringOf(field, what) : '';
}

function lastInt(fields: WireField[], number: number, what: string): number | undefined {
  const field = fields.findLast((f) => f.number === number);
  return field ? intOf(field, what) : undefined;
}

function messages(fields: WireField[], number: number, what: string, keep?: ReadonlySet<number>): WireField[][] {
  return fields.filter((f) => f.number === number).map((f) => fieldsOf(bytesOf(f, what), what, keep));
}

/** Weights stored beside the model (`data_location: EXTERNAL`) would be missing after upload. */
function refuseExternalData(tensor: WireField[], where: string): void {
  const external =
    lastInt(tensor, TensorField.dataLocation, 'tensor data location') === DATA_LOCATION_EXTERNAL ||
    tensor.some((f) => f.number === TensorField.externalData);
  if (!external) return;
  const name = lastString(tensor, TensorField.name, 'tensor name');
  throw unsupported(
    `The ${where} "${name}" keeps its data in a separate file (ONNX external data); Fogline needs one self-contained .onnx file. ` +
      'Save it with the weights inside (onnx.save_model(model, path, save_as_external_data=False); models over 2 GB cannot be).',
  );
}

/** Operators of a graph and of the graphs inside its nodes' attributes; checks embedded tensors too. */
function collectOperators(graph: WireField[], into: Set<string>, depth: number): void {
  if (depth > MAX_SUBGRAPH_DEPTH) throw unsupported(`The model nests subgraphs more than ${MAX_SUBGRAPH_DEPTH} deep.`);
  for (const node of messages(graph, GraphField.node, 'node')) {
    const opType = lastString(node, NodeField.opType, 'node op_type');
    if (!opType) throw invalid(`A node has no op_type. ${RE_EXPORT}`);
    const domain = lastString(node, NodeField.domain, 'node domain');
    into.add(domain === '' || domain === 'ai.onnx' ? opType : `${domain}:${opType}`);
    for (const attribute of messages(node, NodeField.attribute, 'node attribute', ATTRIBUTE_FIELDS)) {
      for (const tensor of messages(attribute, AttributeField.t, 'attribute tensor', TENSOR_FIELDS)) refuseExternalData(tensor, 'constant');
      for (const sub of messages(attribute, AttributeField.g, 'subgraph')) collectOperators(sub, into, depth + 1);
      for (const sub of messages(attribute, AttributeField.graphs, 'subgraph')) collectOperators(sub, into, depth + 1);
    }
  }
}

function describeDimension(dimension: WireField[], tensor: string): { size: number; name: string | null } {
  const value = lastInt(dimension, DimensionField.dimValue, 'dimension');
  const param = lastString(dimension, DimensionField.dimParam, 'dimension name');
  // A oneof: the field written last wins.
  const last = dimension.findLast((f) => f.number === DimensionField.dimValue || f.number === DimensionField.dimParam);
  if (last?.number === DimensionField.dimValue && value !== undefined) {
    if (value < 0 || !Number.isSafeInteger(value)) throw invalid(`Tensor "${tensor}" has a dimension of ${value}. ${RE_EXPORT}`);
    return { size: value, name: null };
  }
  return { size: -1, name: param === '' ? null : param };
}

function describeValue(value: WireField[], role: 'input' | 'output'): OnnxTensorInfo {
  const name = lastString(value, ValueInfoField.name, `${role} name`);
  const type = messages(value, ValueInfoField.type, `${role} type`).at(-1);
  if (!type) throw invalid(`Graph ${role} "${name}" has no type. ${RE_EXPORT}`);
  const kind = type.findLast((f) => f.wireType === 2);
  if (kind?.number !== TypeField.tensorType) {
    const what =
      kind?.number === TypeField.sequenceType
        ? 'a sequence'
        : kind?.number === TypeField.mapType
          ? 'a map'
          : kind?.number === TypeField.optionalType
            ? 'an optional'
            : kind?.number === TypeField.sparseTensorType
              ? 'a sparse tensor'
              : 'not a tensor';
    throw unsupported(
      `Graph ${role} "${name}" is ${what}; Fogline serves models whose inputs and outputs are all dense tensors. ` +
        'Change the model so it takes and returns tensors (for scikit-learn classifiers: convert with zipmap=False).',
    );
  }
  const tensor = fieldsOf(bytesOf(kind, `${role} type`), `${role} type`);
  const elementType = lastInt(tensor, TensorTypeField.elemType, `${role} element type`) ?? 0;
  const datatype = onnxElementTypeToDatatype(elementType);
  if (!datatype)
    throw unsupported(
      `Graph ${role} "${name}" holds ${onnxElementTypeName(elementType)} values, which the Open Inference Protocol has no datatype for. ` +
        'Cast it to a supported type (float, double, float16, bfloat16, (u)int8–64, bool, string) in the model.',
    );
  const shape = messages(tensor, TensorTypeField.shape, `${role} shape`).at(-1);
  if (!shape)
    throw unsupported(
      `Graph ${role} "${name}" declares no shape, not even its rank; Fogline needs every input's and output's rank. ` +
        'Export with shapes (or run onnx.shape_inference.infer_shapes and save again).',
    );
  const dimensions = messages(shape, ShapeField.dim, `${role} dimension`).map((d) => describeDimension(d, name));
  return { name, datatype, shape: dimensions.map((d) => d.size), dimNames: dimensions.map((d) => d.name) };
}

function checkOpsets(opsets: { domain: string; version: number }[], operators: string[]): void {
  const standard = opsets.filter((o) => o.domain === '' || o.domain === 'ai.onnx');
  const usesStandardOps = operators.some((op) => !op.includes(':'));
  if (standard.length === 0) {
    if (usesStandardOps) throw invalid(`The model uses standard ONNX operators but imports no ai.onnx opset. ${RE_EXPORT}`);
    return;
  }
  const { min, max } = SUPPORTED_ONNX_OPSETS;
  for (const { version } of standard) {
    if (version > max)
      throw unsupported(
        `The model uses ONNX opset ${version}; the runtime (onnxruntime-node 1.31) runs opsets ${min} to ${max}. ` +
          `Export it again with an older opset (torch.onnx.export(..., opset_version=${max}) or tf2onnx --opset ${max}).`,
      );
    if (version < min)
      throw unsupported(
        `The model uses ONNX opset ${version}, older than ${min}, the oldest the runtime supports. ` +
          'Convert it (onnx.version_converter.convert_version(model, 13)) or export it again.',
      );
  }
}

/** A hint for files that are clearly something else. */
function notOnnxHint(bytes: Uint8Array): string {
  if (bytes[0] === 0x50 && bytes[1] === 0x4b) return ' It is a zip archive (a PyTorch .pt file or a Fogline bundle?), not an .onnx file.';
  if (bytes[0] === 0x7b) return ' It looks like JSON (a TensorFlow.js model.json?), not an .onnx file.';
  return '';
}

/**
 * Reads an .onnx file's header, signature and operators without running it, and checks that
 * onnxruntime-node can take it: a self-contained file, tensor inputs and outputs, a supported opset.
 * Throws MlInputError ('onnx-invalid', 'onnx-truncated', 'onnx-unsupported') otherwise.
 *
 * @example
 * const { inputs, outputs } = describeOnnxModel(fs.readFileSync('model.onnx'));
 * // inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 8], dimNames: ['batch', null] }]
 */
export function describeOnnxModel(bytes: Uint8Array): OnnxModelDescription {
  if (bytes.length === 0) throw invalid('The ONNX file is empty.');
  let model: WireField[];
  try {
    model = fieldsOf(bytes, 'model');
  } catch (error) {
    if (error instanceof MlInputError && error.problem === 'onnx-invalid') {
      throw invalid(`The file is not an ONNX model (it is not a protobuf message).${notOnnxHint(bytes)} ${RE_EXPORT}`);
    }
    throw error;
  }
  const graph = messages(model, ModelField.graph, 'graph').at(-1);
  if (!graph) throw invalid(`The file is not an ONNX model (it has no graph).${notOnnxHint(bytes)} ${RE_EXPORT}`);

  const irVersion = lastInt(model, ModelField.irVersion, 'ir_version') ?? 0;
  const ir = SUPPORTED_ONNX_IR_VERSIONS;
  if (irVersion < ir.min || irVersion > ir.max)
    throw unsupported(
      `The model has ONNX IR version ${irVersion}; the runtime reads IR versions ${ir.min} to ${ir.max}. ` +
        `Export it again with an ONNX release that writes IR ${ir.max} or older.`,
    );

  const opsets = messages(model, ModelField.opsetImport, 'opset import').map((o) => ({
    domain: lastString(o, OpsetField.domain, 'opset domain'),
    version: lastInt(o, OpsetField.version, 'opset version') ?? 0,
  }));
  // fromEntries, not assignment: a key such as "__proto__" stays an ordinary entry.
  const metadata: Record<string, string> = Object.fromEntries(
    messages(model, ModelField.metadataProps, 'metadata entry').map((entry) => [
      lastString(entry, StringEntryField.key, 'metadata key'),
      lastString(entry, StringEntryField.value, 'metadata value'),
    ]),
  );

  const weights = new Set<string>();
  for (const tensor of messages(graph, GraphField.initializer, 'initializer', TENSOR_FIELDS)) {
    refuseExternalData(tensor, 'initializer');
    weights.add(lastString(tensor, TensorField.name, 'initializer name'));
  }
  for (const sparse of messages(graph, GraphField.sparseInitializer, 'sparse initializer', SPARSE_VALUES))
    for (const values of messages(sparse, 1, 'sparse initializer values', TENSOR_FIELDS)) {
      refuseExternalData(values, 'sparse initializer');
      weights.add(lastString(values, TensorField.name, 'initializer name'));
    }

  const operatorSet = new Set<string>();
  collectOperators(graph, operatorSet, 0);
  const operators = [...operatorSet].sort();
  checkOpsets(opsets, operators);

  const inputs = messages(graph, GraphField.input, 'graph input')
    .filter((v) => !weights.has(lastString(v, ValueInfoField.name, 'input name')))
    .map((v) => describeValue(v, 'input'));
  const outputs = messages(graph, GraphField.output, 'graph output').map((v) => describeValue(v, 'output'));
  if (outputs.length === 0) throw invalid(`The model's graph has no outputs. ${RE_EXPORT}`);

  return {
    irVersion,
    producerName: lastString(model, ModelField.producerName, 'producer_name'),
    producerVersion: lastString(model, ModelField.producerVersion, 'producer_version'),
    domain: lastString(model, ModelField.domain, 'domain'),
    modelVersion: lastInt(model, ModelField.modelVersion, 'model_version') ?? 0,
    docString: lastString(model, ModelField.docString, 'doc_string'),
    opsets,
    graphName: lastString(graph, GraphField.name, 'graph name'),
    inputs,
    outputs,
    operators,
    metadata,
  };
}
