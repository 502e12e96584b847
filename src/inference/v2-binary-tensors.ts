import { MlInputError } from '../ml/errors.js';
import { fromHalfBits, toHalfBits } from '../ml/bundle/half-float.js';

/**
 * One tensor's data as the binary tensor data extension carries it: little-endian, row-major, no
 * padding; BOOL one byte (0 or 1); BYTES each element a 4-byte little-endian length and its bytes.
 * Fixed-size types decode into typed arrays (INT64/UINT64 into BigInt arrays, FP16 into float32
 * numbers, BOOL into a Uint8Array of 0 and 1); BYTES into strings, as JSON requests carry them.
 */
export type TypedTensorData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array;
export type BinaryTensorData = TypedTensorData | string[];

interface FixedType {
  bytes: number;
  create(count: number): TypedTensorData;
  /** The constructor whose instances are already this type's wire layout (FP16 has none). */
  native?: new (...args: never[]) => TypedTensorData;
}

const FIXED_TYPES: Record<string, FixedType> = {
  FP32: { bytes: 4, create: (n) => new Float32Array(n), native: Float32Array },
  FP64: { bytes: 8, create: (n) => new Float64Array(n), native: Float64Array },
  FP16: { bytes: 2, create: (n) => new Uint16Array(n) },
  INT8: { bytes: 1, create: (n) => new Int8Array(n), native: Int8Array },
  INT16: { bytes: 2, create: (n) => new Int16Array(n), native: Int16Array },
  INT32: { bytes: 4, create: (n) => new Int32Array(n), native: Int32Array },
  INT64: { bytes: 8, create: (n) => new BigInt64Array(n), native: BigInt64Array },
  UINT8: { bytes: 1, create: (n) => new Uint8Array(n), native: Uint8Array },
  UINT16: { bytes: 2, create: (n) => new Uint16Array(n), native: Uint16Array },
  UINT32: { bytes: 4, create: (n) => new Uint32Array(n), native: Uint32Array },
  UINT64: { bytes: 8, create: (n) => new BigUint64Array(n), native: BigUint64Array },
  BOOL: { bytes: 1, create: (n) => new Uint8Array(n) },
};

/** The datatypes this codec carries as binary. */
export const BINARY_DATATYPES: readonly string[] = [...Object.keys(FIXED_TYPES), 'BYTES'];

/** Bytes per element of a fixed-size datatype; undefined for BYTES and for datatypes it does not know. */
export function elementBytes(datatype: string): number | undefined {
  return Object.hasOwn(FIXED_TYPES, datatype) ? FIXED_TYPES[datatype]!.bytes : undefined;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes `count` elements of `datatype` from exactly `bytes` (a copy: the result never aliases the
 * request body). `what` names the tensor in errors ('Input "x"'). Throws MlInputError when the
 * bytes do not hold exactly `count` elements.
 */
export function decodeTensorData(datatype: string, bytes: Uint8Array, count: number, what: string): BinaryTensorData {
  if (datatype === 'BYTES') return decodeBytesElements(bytes, count, what);
  const type = Object.hasOwn(FIXED_TYPES, datatype) ? FIXED_TYPES[datatype] : undefined;
  if (!type)
    throw new MlInputError(
      'bad-input',
      `${what} has datatype ${datatype}, which binary data cannot carry; use one of ${BINARY_DATATYPES.join(', ')}.`,
    );
  if (bytes.byteLength !== count * type.bytes) {
    throw new MlInputError(
      'bad-input',
      `${what} needs ${count * type.bytes} bytes of binary data (${count} × ${type.bytes}); it has ${bytes.byteLength}.`,
    );
  }
  const out = type.create(count);
  const view = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  view.set(bytes);
  if (!LITTLE_ENDIAN_HOST) swapBytes(view, type.bytes);
  if (datatype === 'FP16') return halvesToFloats(out as Uint16Array);
  if (datatype === 'BOOL') {
    const bad = (out as Uint8Array).findIndex((b) => b > 1);
    if (bad >= 0)
      throw new MlInputError('bad-input', `${what} is BOOL but its element ${bad} is the byte ${(out as Uint8Array)[bad]}, not 0 or 1.`);
  }
  return out;
}

function decodeBytesElements(bytes: Uint8Array, count: number, what: string): string[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: string[] = [];
  let offset = 0;
  while (offset < bytes.byteLength) {
    if (out.length === count) {
      throw new MlInputError(
        'bad-input',
        `${what} is BYTES with ${count} element(s) but ${bytes.byteLength - offset} byte(s) follow the last one.`,
      );
    }
    if (offset + 4 > bytes.byteLength)
      throw new MlInputError('bad-input', `${what} is BYTES and its element ${out.length} has a cut-off length prefix.`);
    const length = view.getUint32(offset, true);
    offset += 4;
    if (offset + length > bytes.byteLength) {
      throw new MlInputError(
        'bad-input',
        `${what} is BYTES and its element ${out.length} says ${length} bytes, but only ${bytes.byteLength - offset} remain.`,
      );
    }
    try {
      out.push(utf8.decode(bytes.subarray(offset, offset + length)));
    } catch {
      throw new MlInputError('bad-input', `${what} is BYTES and its element ${out.length} is not UTF-8 text.`);
    }
    offset += length;
  }
  if (out.length !== count)
    throw new MlInputError('bad-input', `${what} is BYTES with ${count} element(s) by its shape but its binary data holds ${out.length}.`);
  return out;
}

/**
 * Encodes `data` (a typed array, or plain values, nested or flat) as `datatype`'s wire bytes. A
 * typed array already in the wire layout is returned as a view, not copied. Throws on a datatype
 * it cannot carry or a value that does not fit.
 */
export function encodeTensorData(datatype: string, data: ArrayLike<unknown>, what: string): Uint8Array {
  const values = isTypedArray(data) ? data : flattenNested(data);
  if (datatype === 'BYTES') return encodeBytesElements(values, what);
  const type = Object.hasOwn(FIXED_TYPES, datatype) ? FIXED_TYPES[datatype] : undefined;
  if (!type)
    throw new MlInputError(
      'bad-input',
      `${what} has datatype ${datatype}, which binary data cannot carry; use one of ${BINARY_DATATYPES.join(', ')}.`,
    );
  if (type.native && values instanceof type.native && LITTLE_ENDIAN_HOST)
    return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = type.create(values.length);
  if (datatype === 'FP16') {
    const halves = out as Uint16Array;
    for (let i = 0; i < values.length; i++) halves[i] = floatToHalf(Number(values[i]));
  } else if (datatype === 'BOOL') {
    const flags = out as Uint8Array;
    for (let i = 0; i < values.length; i++) flags[i] = values[i] ? 1 : 0;
  } else if (out instanceof BigInt64Array || out instanceof BigUint64Array) {
    for (let i = 0; i < values.length; i++) out[i] = toBigInt(values[i], what, i);
  } else if (Array.isArray(values) || (isTypedArray(values) && !(values instanceof BigInt64Array || values instanceof BigUint64Array))) {
    // Numbers (or booleans) into a numeric typed array: one native copy.
    out.set(values as ArrayLike<number>);
  } else {
    for (let i = 0; i < values.length; i++) out[i] = Number(values[i]);
  }
  const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  if (!LITTLE_ENDIAN_HOST) swapBytes(bytes, type.bytes);
  return bytes;
}

function toBigInt(value: unknown, what: string, index: number): bigint {
  if (typeof value === 'bigint') return value;
  const number = Number(value);
  if (!Number.isFinite(number)) throw new MlInputError('bad-input', `${what} value ${index} (${String(value)}) is not an integer.`);
  return BigInt(Math.trunc(number));
}

function encodeBytesElements(values: ArrayLike<unknown>, what: string): Uint8Array {
  const elements: Uint8Array[] = [];
  let total = 0;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    const element = value instanceof Uint8Array ? value : typeof value === 'string' ? Buffer.from(value, 'utf8') : undefined;
    if (!element) throw new MlInputError('bad-input', `${what} is BYTES but its value ${i} is not a string.`);
    elements.push(element);
    total += 4 + element.byteLength;
  }
  const out = Buffer.allocUnsafe(total);
  let offset = 0;
  for (const element of elements) {
    out.writeUInt32LE(element.byteLength, offset);
    out.set(element, offset + 4);
    offset += 4 + element.byteLength;
  }
  return out;
}

export function isTypedArray(value: unknown): value is TypedTensorData {
  return ArrayBuffer.isView(value) && !(value instanceof DataView);
}

/** Plain arrays may nest row-major (the protocol allows it); binary data is flat. */
function flattenNested(data: ArrayLike<unknown>): ArrayLike<unknown> {
  return Array.isArray(data) && data.some(Array.isArray) ? (data.flat(16) as unknown[]) : data;
}

function swapBytes(bytes: Uint8Array, width: number): void {
  if (width === 1) return;
  for (let i = 0; i < bytes.length; i += width) bytes.subarray(i, i + width).reverse();
}

/**
 * Gives decoded data the JSON form the protocol uses, for when a decoded request is sent on as JSON
 * (an agent offloading to the cloud): numbers (INT64 too), booleans for BOOL. Without it a typed
 * array would serialise as an object ({"0":…}) and a BigInt array not at all.
 */
export function withJsonForm<T extends BinaryTensorData>(data: T, datatype: string): T {
  if (Array.isArray(data)) return data;
  const toJSON =
    datatype === 'BOOL'
      ? () => Array.from(data as Uint8Array, (b) => b === 1)
      : () => Array.from(data as ArrayLike<number | bigint>, (v) => Number(v));
  Object.defineProperty(data, 'toJSON', { value: toJSON });
  return data;
}

/** IEEE 754 half precision to numbers. */
function halvesToFloats(halves: Uint16Array): Float32Array {
  const out = new Float32Array(halves.length);
  for (let i = 0; i < halves.length; i++) out[i] = halfToFloat(halves[i]!);
  return out;
}

/** FP16 data: the shared half-precision conversion (Infinity beyond ±65504, as numpy does). */
export const halfToFloat = fromHalfBits;
export const floatToHalf = (value: number): number => toHalfBits(value);
