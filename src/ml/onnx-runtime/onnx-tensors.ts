import type * as ort from 'onnxruntime-node';
import type { TensorDatatype, TensorSpec } from '../bundle/bundle-manifest.js';
import type { InferInput, InferOutput } from '../bundle/infer-tensors.js';
import { MlInputError } from '../errors.js';
import { fromHalfBits, toHalfBits } from '../bundle/half-float.js';
import { loadedOnnxRuntime } from './onnx-runtime-module.js';

type OrtType = ort.Tensor.Type;

/** Open Inference Protocol datatype → ONNX Runtime element type. */
const ORT_TYPE: Record<TensorDatatype, OrtType> = {
  FP32: 'float32',
  FP64: 'float64',
  FP16: 'float16',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  BOOL: 'bool',
  BYTES: 'string',
};
const DATATYPE = Object.fromEntries(Object.entries(ORT_TYPE).map(([v2, type]) => [type, v2])) as Partial<Record<OrtType, TensorDatatype>>;

/** Integer ranges; 64-bit types are checked against their BigInt range. */
const INTEGER_RANGE: Partial<Record<TensorDatatype, [bigint, bigint]>> = {
  INT8: [-128n, 127n],
  INT16: [-32768n, 32767n],
  INT32: [-2147483648n, 2147483647n],
  INT64: [-(2n ** 63n), 2n ** 63n - 1n],
  UINT8: [0n, 255n],
  UINT16: [0n, 65535n],
  UINT32: [0n, 4294967295n],
  UINT64: [0n, 2n ** 64n - 1n],
};

export function datatypeOfOrtType(type: string): TensorDatatype | undefined {
  return DATATYPE[type as OrtType];
}

/**
 * Checks a request tensor against the model's input and converts it to an ONNX Runtime tensor.
 * Every refusal names the input and what the model expects (the V2 routes answer it with 400).
 */
export function toOrtTensor(inputs: InferInput[], spec: TensorSpec): ort.Tensor {
  const input = inputs.find((i) => i.name === spec.name);
  const expected = `${spec.datatype} [${spec.shape.join(', ')}]`;
  if (!input) {
    throw new MlInputError(
      'bad-input',
      `Input "${spec.name}" (${expected}) is missing; got: ${inputs.map((i) => i.name).join(', ') || 'none'}.`,
    );
  }
  if (input.datatype !== undefined && input.datatype !== spec.datatype) {
    throw new MlInputError(
      'bad-input',
      `Input "${spec.name}" must have datatype ${spec.datatype} (the model takes ${expected}), not ${input.datatype}.`,
    );
  }
  const shape = input.shape;
  const fits =
    Array.isArray(shape) &&
    shape.length === spec.shape.length &&
    shape.every((d, i) => Number.isInteger(d) && d >= 0 && ((spec.shape[i] ?? -1) < 0 || spec.shape[i] === d));
  if (!fits)
    throw new MlInputError(
      'bad-input',
      `Input "${spec.name}" must have shape [${spec.shape.join(', ')}] (-1: any size); got ${JSON.stringify(shape)}.`,
    );
  const count = shape.reduce((a, b) => a * b, 1);
  if (input.data.length !== count) {
    throw new MlInputError(
      'bad-input',
      `Input "${spec.name}" has shape ${JSON.stringify(shape)} (${count} values) but ${input.data.length} data values.`,
    );
  }
  const data = sameTypedArray(input.data, spec.datatype) ?? convert(input.data, spec);
  return new (loadedOnnxRuntime().Tensor)(ORT_TYPE[spec.datatype], data, shape);
}

/** Binary requests arrive as typed arrays already in ONNX Runtime's layout: those go in as they are (floats still checked). */
function sameTypedArray(data: InferInput['data'], datatype: TensorDatatype) {
  if (datatype === 'FP32' && data instanceof Float32Array) return data.every(Number.isFinite) ? data : undefined;
  if (datatype === 'FP64' && data instanceof Float64Array) return data.every(Number.isFinite) ? data : undefined;
  if (datatype === 'INT64' && data instanceof BigInt64Array) return data;
  if (datatype === 'UINT64' && data instanceof BigUint64Array) return data;
  if (datatype === 'INT32' && data instanceof Int32Array) return data;
  if (datatype === 'UINT8' && data instanceof Uint8Array) return data;
  return undefined;
}

function convert(data: InferInput['data'], spec: TensorSpec) {
  const { datatype, name } = spec;
  const bad = (i: number, what: string) =>
    new MlInputError('bad-input', `Input "${name}" value ${i} (${JSON.stringify(String(data[i])).slice(0, 40)}) is not ${what}.`);
  const count = data.length;
  switch (datatype) {
    case 'BYTES': {
      const out = new Array<string>(count);
      for (let i = 0; i < count; i++) {
        const v = data[i];
        if (typeof v !== 'string') throw bad(i, 'a string (BYTES)');
        out[i] = v;
      }
      return out;
    }
    case 'BOOL': {
      const out = new Uint8Array(count);
      for (let i = 0; i < count; i++) {
        const v = data[i];
        if (v === true || v === 1) out[i] = 1;
        else if (v !== false && v !== 0) throw bad(i, 'a boolean');
      }
      return out;
    }
    case 'FP32':
    case 'FP64':
    case 'FP16': {
      const out = datatype === 'FP32' ? new Float32Array(count) : datatype === 'FP64' ? new Float64Array(count) : new Uint16Array(count);
      for (let i = 0; i < count; i++) {
        const v = data[i];
        if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(i, 'a finite number');
        out[i] = datatype === 'FP16' ? toHalfBits(v) : v;
      }
      return out;
    }
    case 'INT64':
    case 'UINT64': {
      const [min, max] = INTEGER_RANGE[datatype]!;
      const out = datatype === 'INT64' ? new BigInt64Array(count) : new BigUint64Array(count);
      for (let i = 0; i < count; i++) {
        const v = data[i];
        const n = typeof v === 'bigint' ? v : typeof v === 'number' && Number.isInteger(v) ? BigInt(v) : undefined;
        if (n === undefined || n < min || n > max) throw bad(i, `an integer that fits ${datatype}`);
        out[i] = n;
      }
      return out;
    }
    default: {
      const [min, max] = INTEGER_RANGE[datatype]!;
      const Typed = { INT8: Int8Array, INT16: Int16Array, INT32: Int32Array, UINT8: Uint8Array, UINT16: Uint16Array, UINT32: Uint32Array }[
        datatype
      ];
      const out = new Typed(count);
      for (let i = 0; i < count; i++) {
        const v = data[i];
        if (typeof v !== 'number' || !Number.isInteger(v) || v < Number(min) || v > Number(max))
          throw bad(i, `an integer that fits ${datatype}`);
        out[i] = v;
      }
      return out;
    }
  }
}

/** An ONNX Runtime result as a V2 output: plain arrays, 64-bit integers as numbers, FP16 decoded. */
export function fromOrtTensor(name: string, tensor: ort.Tensor): InferOutput {
  const datatype = datatypeOfOrtType(tensor.type);
  if (!datatype) throw new Error(`Output "${name}" has element type ${tensor.type}, which the Open Inference Protocol cannot carry.`);
  const shape = tensor.dims.map(Number);
  const raw = tensor.data;
  let data: InferOutput['data'];
  if (datatype === 'BYTES') data = [...(raw as string[])];
  else if (datatype === 'BOOL') data = Array.from(raw as Uint8Array, (v) => v !== 0);
  else if (datatype === 'FP16') data = Array.from(raw as Uint16Array, fromHalfBits);
  else if (datatype === 'INT64' || datatype === 'UINT64') data = Array.from(raw as BigInt64Array, (v) => Number(v));
  else data = Array.from(raw as Float32Array);
  return { name, shape, datatype, data };
}
