import type { TensorDatatype } from '../bundle/bundle-manifest.js';

/**
 * The parts of onnx.proto (https://github.com/onnx/onnx/blob/main/onnx/onnx.proto) this library
 * reads or writes: field numbers per message, and the tensor element types.
 */
export const ModelField = {
  irVersion: 1,
  producerName: 2,
  producerVersion: 3,
  domain: 4,
  modelVersion: 5,
  docString: 6,
  graph: 7,
  opsetImport: 8,
  metadataProps: 14,
} as const;

export const OpsetField = { domain: 1, version: 2 } as const;
export const StringEntryField = { key: 1, value: 2 } as const;

export const GraphField = { node: 1, name: 2, initializer: 5, docString: 10, input: 11, output: 12, sparseInitializer: 15 } as const;

export const NodeField = { input: 1, output: 2, name: 3, opType: 4, attribute: 5, docString: 6, domain: 7 } as const;

export const AttributeField = { name: 1, f: 2, i: 3, s: 4, t: 5, g: 6, floats: 7, ints: 8, graphs: 11, type: 20 } as const;

/** AttributeProto.AttributeType values this library writes. */
export const AttributeType = { float: 1, int: 2, string: 3, ints: 7 } as const;

export const TensorField = { dims: 1, dataType: 2, name: 8, rawData: 9, externalData: 13, dataLocation: 14 } as const;
export const DATA_LOCATION_EXTERNAL = 1;

export const ValueInfoField = { name: 1, type: 2 } as const;
export const TypeField = { tensorType: 1, sequenceType: 4, mapType: 5, sparseTensorType: 8, optionalType: 9 } as const;
export const TensorTypeField = { elemType: 1, shape: 2 } as const;
export const ShapeField = { dim: 1 } as const;
export const DimensionField = { dimValue: 1, dimParam: 2 } as const;

/**
 * An Open Inference Protocol tensor datatype: the ones Fogline's signatures use (TensorDatatype),
 * plus BF16, which an .onnx file may declare and import refuses with a reason.
 */
export type OipDatatype = TensorDatatype | 'BF16';

/** TensorProto.DataType values that have an Open Inference Protocol datatype. */
const DATATYPE_OF_ELEMENT_TYPE: ReadonlyMap<number, OipDatatype> = new Map([
  [1, 'FP32'],
  [2, 'UINT8'],
  [3, 'INT8'],
  [4, 'UINT16'],
  [5, 'INT16'],
  [6, 'INT32'],
  [7, 'INT64'],
  [8, 'BYTES'],
  [9, 'BOOL'],
  [10, 'FP16'],
  [11, 'FP64'],
  [12, 'UINT32'],
  [13, 'UINT64'],
  [16, 'BF16'],
]);

/** Names of the element types without one, for error messages. */
const UNSUPPORTED_ELEMENT_TYPE_NAMES: ReadonlyMap<number, string> = new Map([
  [0, 'UNDEFINED'],
  [14, 'COMPLEX64'],
  [15, 'COMPLEX128'],
  [17, 'FLOAT8E4M3FN'],
  [18, 'FLOAT8E4M3FNUZ'],
  [19, 'FLOAT8E5M2'],
  [20, 'FLOAT8E5M2FNUZ'],
  [21, 'UINT4'],
  [22, 'INT4'],
  [23, 'FLOAT4E2M1'],
  [24, 'FLOAT8E8M0'],
  [25, 'UINT2'],
  [26, 'INT2'],
]);

/** The Open Inference Protocol datatype of an ONNX element type, or undefined when it has none. */
export function onnxElementTypeToDatatype(elementType: number): OipDatatype | undefined {
  return DATATYPE_OF_ELEMENT_TYPE.get(elementType);
}

/** The ONNX element type (TensorProto.DataType) of an Open Inference Protocol datatype. */
export function datatypeToOnnxElementType(datatype: OipDatatype): number {
  for (const [elementType, name] of DATATYPE_OF_ELEMENT_TYPE) if (name === datatype) return elementType;
  throw new RangeError(`Unknown datatype ${String(datatype)}.`);
}

export function onnxElementTypeName(elementType: number): string {
  return UNSUPPORTED_ELEMENT_TYPE_NAMES.get(elementType) ?? `element type ${elementType}`;
}

export const FLOAT_ELEMENT_TYPE = 1;
export const INT64_ELEMENT_TYPE = 7;
