/**
 * The protobuf wire format, just enough to read and write ONNX files without a protobuf library:
 * varints, fixed 32/64-bit values and length-delimited fields. Schemas live with their callers.
 * https://protobuf.dev/programming-guides/encoding/
 */

export const WireType = { varint: 0, fixed64: 1, lengthDelimited: 2, fixed32: 5 } as const;

export type WireField =
  | { readonly number: number; readonly wireType: 0; readonly value: bigint }
  | { readonly number: number; readonly wireType: 1 | 2 | 5; readonly bytes: Uint8Array };

/** The bytes are not a well-formed protobuf message; `truncated` when they stop mid-field. */
export class WireFormatError extends Error {
  readonly truncated: boolean;
  constructor(message: string, truncated: boolean) {
    super(message);
    this.name = 'WireFormatError';
    this.truncated = truncated;
  }
}

/** Reads one varint (at most 10 bytes: 64 bits) at `at`; returns the value and the next offset. */
function readVarint(bytes: Uint8Array, at: number): { value: bigint; next: number } {
  let value = 0n;
  for (let i = 0; i < 10; i++) {
    if (at + i >= bytes.length) throw new WireFormatError('The data ends in the middle of a number.', true);
    const byte = bytes[at + i]!;
    value |= BigInt(byte & 0x7f) << BigInt(7 * i);
    if (byte < 0x80) return { value: BigInt.asUintN(64, value), next: at + i + 1 };
  }
  throw new WireFormatError('A number is longer than 64 bits.', false);
}

/**
 * The top-level fields of one message, in file order (repeated fields appear once per value).
 * `keep` limits the result to those field numbers (all are still checked): a message with
 * millions of unpacked values then costs no memory for the fields the caller skips.
 */
export function readFields(bytes: Uint8Array, keep?: ReadonlySet<number>): WireField[] {
  const fields: WireField[] = [];
  let at = 0;
  while (at < bytes.length) {
    const key = readVarint(bytes, at);
    at = key.next;
    const number = Number(key.value >> 3n);
    const wireType = Number(key.value & 7n);
    if (number < 1 || number > 0x1fffffff) throw new WireFormatError(`Field number ${number} is out of range.`, false);
    if (wireType === WireType.varint) {
      const v = readVarint(bytes, at);
      if (!keep || keep.has(number)) fields.push({ number, wireType, value: v.value });
      at = v.next;
      continue;
    }
    let size: number;
    if (wireType === WireType.fixed64) size = 8;
    else if (wireType === WireType.fixed32) size = 4;
    else if (wireType === WireType.lengthDelimited) {
      const length = readVarint(bytes, at);
      at = length.next;
      if (length.value > BigInt(bytes.length - at))
        throw new WireFormatError(`Field ${number} says it holds ${length.value} bytes; only ${bytes.length - at} remain.`, true);
      size = Number(length.value);
    } else throw new WireFormatError(`Field ${number} has wire type ${wireType}, which is not used here.`, false);
    if (at + size > bytes.length) throw new WireFormatError(`The data ends inside field ${number}.`, true);
    if (!keep || keep.has(number)) fields.push({ number, wireType, bytes: bytes.subarray(at, at + size) });
    at += size;
  }
  return fields;
}

/** The values of a packed repeated varint field (`[packed = true]` or proto3 repeated scalars). */
export function readPackedVarints(bytes: Uint8Array): bigint[] {
  const values: bigint[] = [];
  let at = 0;
  while (at < bytes.length) {
    const v = readVarint(bytes, at);
    values.push(v.value);
    at = v.next;
  }
  return values;
}

/** An int64/int32 field's value: two's complement, as a JS number (exact up to 2^53). */
export function signedOf(value: bigint): number {
  return Number(BigInt.asIntN(64, value));
}

const utf8 = new TextDecoder('utf-8');
const utf8Encoder = new TextEncoder();

export function utf8Of(bytes: Uint8Array): string {
  return utf8.decode(bytes);
}

/**
 * Builds one message. Fields are written in call order, so the same calls give the same bytes.
 *
 * @example
 * const opset = new ProtoWriter().string(1, '').int(2, 13);
 * const model = new ProtoWriter().int(1, 7).message(8, opset).finish();
 */
export class ProtoWriter {
  private readonly chunks: Uint8Array[] = [];
  private size = 0;

  private push(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  private varint(value: bigint): void {
    const out: number[] = [];
    let v = BigInt.asUintN(64, value);
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    this.push(Uint8Array.from(out));
  }

  private key(field: number, wireType: number): void {
    this.varint(BigInt(field) * 8n + BigInt(wireType));
  }

  /** An int32/int64/enum/bool value; negatives take ten bytes, as protobuf writes them. */
  int(field: number, value: number | bigint): this {
    if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new RangeError(`Field ${field}: ${value} is not an integer.`);
    this.key(field, WireType.varint);
    this.varint(BigInt(value));
    return this;
  }

  float32(field: number, value: number): this {
    const chunk = new Uint8Array(4);
    new DataView(chunk.buffer).setFloat32(0, value, true);
    this.key(field, WireType.fixed32);
    this.push(chunk);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.key(field, WireType.lengthDelimited);
    this.varint(BigInt(value.length));
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, utf8Encoder.encode(value));
  }

  message(field: number, value: ProtoWriter): this {
    return this.bytes(field, value.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }
}
