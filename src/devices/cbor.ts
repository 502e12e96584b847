import { DeviceMessageError } from './device-reading.js';

/**
 * A small CBOR (RFC 8949) reader for EdgeX events: EdgeX's device SDK encodes an event that holds a
 * Binary reading as CBOR, not JSON. Maps become objects (keys as strings), byte strings Uint8Array,
 * tags are dropped, integers beyond 2^53 come back as decimal digit strings (EdgeX origins are
 * nanoseconds). Throws DeviceMessageError 'malformed-cbor' on anything it cannot read.
 */
export function decodeCbor(bytes: Uint8Array): unknown {
  const reader = new CborReader(bytes);
  const value = reader.item(0);
  if (reader.at !== bytes.byteLength) throw malformed(`${bytes.byteLength - reader.at} bytes after the first item`);
  return value;
}

const MAX_DEPTH = 64;
const BREAK = Symbol('break');

function malformed(what: string): DeviceMessageError {
  return new DeviceMessageError(
    'malformed-cbor',
    `the message is not valid CBOR (${what}): expected an EdgeX event encoded as CBOR or JSON`,
  );
}

class CborReader {
  at = 0;
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private need(n: number): void {
    if (this.at + n > this.bytes.byteLength) throw malformed('it ends in the middle of an item');
  }

  /** The argument after an initial byte: a number, a bigint beyond 2^53, or undefined for "indefinite". */
  private argument(info: number): number | bigint | undefined {
    if (info < 24) return info;
    if (info === 31) return undefined;
    const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
    if (size === 0) throw malformed(`reserved additional information ${info}`);
    this.need(size);
    const at = this.at;
    this.at += size;
    if (size === 1) return this.view.getUint8(at);
    if (size === 2) return this.view.getUint16(at);
    if (size === 4) return this.view.getUint32(at);
    const big = this.view.getBigUint64(at);
    return big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
  }

  private length(arg: number | bigint | undefined): number {
    if (typeof arg === 'bigint' || arg === undefined || arg > this.bytes.byteLength - this.at) {
      throw malformed('a length longer than the message');
    }
    return arg;
  }

  item(depth: number): unknown {
    const value = this.next(depth);
    if (value === BREAK) throw malformed('a "break" outside an indefinite-length item');
    return value;
  }

  private next(depth: number): unknown {
    if (depth > MAX_DEPTH) throw malformed(`more than ${MAX_DEPTH} levels of nesting`);
    this.need(1);
    const initial = this.bytes[this.at++]!;
    const major = initial >> 5;
    const info = initial & 31;
    if (major === 7) return this.simple(info);
    const arg = this.argument(info);
    switch (major) {
      case 0:
        return typeof arg === 'bigint' ? arg.toString() : this.definite(arg);
      case 1:
        return typeof arg === 'bigint' ? (-1n - arg).toString() : -1 - this.definite(arg);
      case 2:
      case 3: {
        const chunks: Uint8Array[] = [];
        if (arg === undefined) {
          for (;;) {
            this.need(1);
            if (this.bytes[this.at] === 0xff) {
              this.at += 1;
              break;
            }
            const chunk = this.next(depth + 1);
            if (major === 2 && chunk instanceof Uint8Array) chunks.push(chunk);
            else if (major === 3 && typeof chunk === 'string') chunks.push(new TextEncoder().encode(chunk));
            else throw malformed('a chunk of another type in an indefinite-length string');
          }
        } else {
          const n = this.length(arg);
          chunks.push(this.bytes.slice(this.at, this.at + n));
          this.at += n;
        }
        const joined = chunks.length === 1 ? chunks[0]! : Uint8Array.from(chunks.flatMap((c) => Array.from(c)));
        if (major === 2) return joined;
        try {
          return new TextDecoder('utf-8', { fatal: true }).decode(joined);
        } catch {
          throw malformed('a text string that is not UTF-8');
        }
      }
      case 4: {
        const out: unknown[] = [];
        const n = arg === undefined ? Number.POSITIVE_INFINITY : this.length(arg);
        for (let i = 0; i < n; i++) {
          const v = this.next(depth + 1);
          if (v === BREAK) {
            if (arg === undefined) break;
            throw malformed('a "break" inside a definite-length array');
          }
          out.push(v);
        }
        return out;
      }
      case 5: {
        const out: Record<string, unknown> = {};
        const n = arg === undefined ? Number.POSITIVE_INFINITY : this.length(arg);
        for (let i = 0; i < n; i++) {
          const key = this.next(depth + 1);
          if (key === BREAK) {
            if (arg === undefined) break;
            throw malformed('a "break" inside a definite-length map');
          }
          const keyText = typeof key === 'string' ? key : String(key);
          // A key named __proto__ would set the prototype; such a key is never an EdgeX field.
          const value = this.item(depth + 1);
          if (keyText !== '__proto__') out[keyText] = value;
        }
        return out;
      }
      default: // 6: a tag (a date, a big number, …): its content is what matters here
        if (arg === undefined) throw malformed('an indefinite-length tag');
        return this.item(depth + 1);
    }
  }

  private definite(arg: number | undefined): number {
    if (arg === undefined) throw malformed('an indefinite-length integer');
    return arg;
  }

  private simple(info: number): unknown {
    if (info === 20) return false;
    if (info === 21) return true;
    if (info === 22) return null;
    if (info === 31) return BREAK;
    if (info === 24) {
      this.need(1);
      this.at += 1;
      return undefined;
    }
    const size = info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
    if (size === 0) {
      if (info > 27) throw malformed(`reserved additional information ${info}`);
      return undefined; // undefined (23) and unassigned simple values
    }
    this.need(size);
    const at = this.at;
    this.at += size;
    if (size === 4) return this.view.getFloat32(at);
    if (size === 8) return this.view.getFloat64(at);
    return half(this.view.getUint16(at));
  }
}

/** IEEE 754 half precision → number (RFC 8949, appendix D). */
function half(bits: number): number {
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  const sign = bits & 0x8000 ? -1 : 1;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}
