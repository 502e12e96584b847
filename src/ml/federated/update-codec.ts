import { MlInputError } from '../errors.js';
import { fromHalfBits, toHalfBits } from '../bundle/half-float.js';

/**
 * How a model update travels: 'float32' (exact), 'float16' (half the bytes, ~3 significant
 * digits) or 'q8' (a quarter of the bytes: 8-bit linear quantisation per block of 256 values,
 * each block with its own float32 minimum and step).
 */
export type UpdateEncoding = 'float32' | 'float16' | 'q8';
export const UPDATE_ENCODINGS: readonly UpdateEncoding[] = ['float32', 'float16', 'q8'];

/** Plain data carried beside the tensor (example count, client metrics); JSON inside the frame. */
export type UpdateMeta = Record<string, unknown>;

export interface DecodedUpdate {
  values: Float32Array;
  encoding: UpdateEncoding;
  meta: UpdateMeta;
}

const MAGIC = 0x31554c46; // 'FLU1' little-endian
const HEADER_BYTES = 16;
export const Q8_BLOCK = 256;
const ENCODING_IDS: Record<UpdateEncoding, number> = { float32: 0, float16: 1, q8: 2 };

/**
 * Frame (little-endian): magic 'FLU1' (u32), encoding (u8), 3 reserved bytes, value count (u32),
 * meta length (u32), meta JSON (utf-8), payload, CRC-32 of everything before it (u32).
 */
export function encodeUpdate(values: Float32Array, encoding: UpdateEncoding = 'float32', meta: UpdateMeta = {}): Uint8Array {
  const metaBytes = new TextEncoder().encode(JSON.stringify(meta));
  const payloadBytes = payloadSize(encoding, values.length);
  const out = new Uint8Array(HEADER_BYTES + metaBytes.length + payloadBytes + 4);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint8(4, ENCODING_IDS[encoding]);
  view.setUint32(8, values.length, true);
  view.setUint32(12, metaBytes.length, true);
  out.set(metaBytes, HEADER_BYTES);
  const at = HEADER_BYTES + metaBytes.length;
  if (encoding === 'float32') for (let i = 0; i < values.length; i++) view.setFloat32(at + i * 4, values[i]!, true);
  else if (encoding === 'float16') for (let i = 0; i < values.length; i++) view.setUint16(at + i * 2, toHalf(values[i]!), true);
  else writeQ8(values, view, at);
  view.setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
  return out;
}

/** Reverses encodeUpdate; a frame that is short, long, of unknown encoding or fails its CRC is refused. */
export function decodeUpdate(bytes: Uint8Array): DecodedUpdate {
  if (bytes.length < HEADER_BYTES + 4) throw corrupt(`the frame has ${bytes.length} bytes, fewer than a header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) throw corrupt('it does not start with FLU1');
  const expected = view.getUint32(bytes.length - 4, true);
  if (crc32(bytes.subarray(0, bytes.length - 4)) !== expected) throw corrupt('the CRC-32 does not match (damaged in transit?)');
  const encoding = UPDATE_ENCODINGS.find((e) => ENCODING_IDS[e] === view.getUint8(4));
  if (!encoding) throw corrupt(`unknown encoding ${view.getUint8(4)}`);
  const count = view.getUint32(8, true);
  const metaLength = view.getUint32(12, true);
  const at = HEADER_BYTES + metaLength;
  if (at + payloadSize(encoding, count) + 4 !== bytes.length) throw corrupt(`its length does not fit ${count} ${encoding} values`);
  let meta: UpdateMeta;
  try {
    const parsed: unknown = JSON.parse(new TextDecoder().decode(bytes.subarray(HEADER_BYTES, at)));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    meta = parsed as UpdateMeta;
  } catch {
    throw corrupt('its metadata is not a JSON object');
  }
  const values = new Float32Array(count);
  if (encoding === 'float32') for (let i = 0; i < count; i++) values[i] = view.getFloat32(at + i * 4, true);
  else if (encoding === 'float16') for (let i = 0; i < count; i++) values[i] = fromHalf(view.getUint16(at + i * 2, true));
  else readQ8(view, at, values);
  return { values, encoding, meta };
}

/** Payload bytes for `count` values: 4, 2 or 1 per value (+ 8 per q8 block). */
export function payloadSize(encoding: UpdateEncoding, count: number): number {
  if (encoding === 'float32') return count * 4;
  if (encoding === 'float16') return count * 2;
  return count + Math.ceil(count / Q8_BLOCK) * 8;
}

function corrupt(why: string): MlInputError {
  return new MlInputError('bad-input', `The model update is corrupt: ${why}.`);
}

// q8: per block, min and step (float32) then one byte per value: v ≈ min + byte × step. A block
// holding NaN or ±Infinity is written with a NaN minimum, so it decodes as NaN and is rejected
// by checkUpdate rather than silently turned into numbers.
function writeQ8(values: Float32Array, view: DataView, at: number): void {
  let offset = at;
  for (let from = 0; from < values.length; from += Q8_BLOCK) {
    const to = Math.min(from + Q8_BLOCK, values.length);
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    let finite = true;
    for (let i = from; i < to; i++) {
      const v = values[i]!;
      if (!Number.isFinite(v)) finite = false;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const step = finite && max > min ? (max - min) / 255 : 0;
    view.setFloat32(offset, finite ? min : Number.NaN, true);
    view.setFloat32(offset + 4, step, true);
    offset += 8;
    // The stored (float32) min and step are what decoding uses, so quantise against them.
    const storedMin = view.getFloat32(offset - 8, true);
    const storedStep = view.getFloat32(offset - 4, true);
    for (let i = from; i < to; i++) {
      const q = storedStep > 0 ? Math.round((values[i]! - storedMin) / storedStep) : 0;
      view.setUint8(offset++, Math.max(0, Math.min(255, Number.isFinite(q) ? q : 0)));
    }
  }
}

function readQ8(view: DataView, at: number, out: Float32Array): void {
  let offset = at;
  for (let from = 0; from < out.length; from += Q8_BLOCK) {
    const to = Math.min(from + Q8_BLOCK, out.length);
    const min = view.getFloat32(offset, true);
    const step = view.getFloat32(offset + 4, true);
    offset += 8;
    for (let i = from; i < to; i++) out[i] = min + view.getUint8(offset++) * step;
  }
}

/** float16 updates saturate: a value beyond ±65504 is clipped, not made infinite. */
export const toHalf = (value: number): number => toHalfBits(value, { saturate: true });
export const fromHalf = fromHalfBits;

let crcTable: Uint32Array | undefined;

/** CRC-32 (IEEE, as zip and PNG use it). */
export function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = crcTable[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
