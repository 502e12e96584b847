import { randomUUID } from 'node:crypto';
import { decodeCbor } from './cbor.js';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  type DeviceReading,
  type DeviceResult,
  DeviceMessageError,
  originSeconds,
  parseJsonKeepingOrigins,
} from './device-reading.js';

export interface DecodeOptions {
  /** Keep only readings of this resource (EdgeX `resourceName`); others are ignored. */
  resource?: string;
  /** Refuse larger messages ('too-large'); default 4 MiB. */
  maxBytes?: number;
}

const NUMERIC_TYPES = new Set(['uint8', 'uint16', 'uint32', 'uint64', 'int8', 'int16', 'int32', 'int64', 'float32', 'float64']);
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const NOT_FINITE = /^[+-]?(?:nan|inf|infinity)$/i;
// Go's strconv.ParseBool, which EdgeX uses to check Bool readings.
const TRUE = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False']);
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const EXPECTED =
  'an EdgeX v3 event {apiVersion, id, deviceName, profileName, sourceName, origin, readings: [{resourceName, valueType, value}]}, or a MessageEnvelope whose payload is one';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const quote = (s: string): string => JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);

function checkSize(payload: Uint8Array, maxBytes: number | undefined): void {
  const limit = maxBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (payload.byteLength > limit) {
    throw new DeviceMessageError('too-large', `the message has ${payload.byteLength} bytes: at most ${limit} are read (maxBytes)`);
  }
}

/** JSON (long origins kept exact) or CBOR, told apart by the first byte: a CBOR map starts with 0xa0–0xbf, which no JSON text does. */
function parseMessage(bytes: Uint8Array, what: string): unknown {
  const first = bytes[0];
  if (first !== undefined && first >= 0xa0 && first <= 0xbf) return decodeCbor(bytes);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new DeviceMessageError('malformed-json', `${what} is neither UTF-8 text nor a CBOR map: expected ${EXPECTED}`);
  }
  try {
    return parseJsonKeepingOrigins(text);
  } catch (error) {
    throw new DeviceMessageError('malformed-json', `${what} is not valid JSON (${(error as Error).message}): expected ${EXPECTED}`);
  }
}

/** Strict standard base64 (EdgeX's JSON of a Go []byte) → bytes, or undefined. */
export function decodeBase64(text: string): Uint8Array | undefined {
  if (!BASE64.test(text)) return undefined;
  return new Uint8Array(Buffer.from(text, 'base64'));
}

/** The event inside a bare event or a MessageEnvelope (payload the event object, or base64 of its JSON or CBOR). */
function unwrap(message: unknown): Json {
  if (!isObject(message)) throw new DeviceMessageError('not-an-event', `the message is not an object: expected ${EXPECTED}`);
  if ('readings' in message || !('payload' in message)) return message;
  if (typeof message.errorCode === 'number' && message.errorCode !== 0) {
    throw new DeviceMessageError(
      'not-an-event',
      `the MessageEnvelope has errorCode ${message.errorCode}: it carries an error, not an event`,
    );
  }
  const contentType = nonEmpty(message.contentType) ? message.contentType : 'application/json';
  if (!/json|cbor/i.test(contentType)) {
    throw new DeviceMessageError(
      'not-an-event',
      `the MessageEnvelope's payload is ${contentType}: expected application/json or application/cbor`,
    );
  }
  const payload = message.payload;
  if (isObject(payload)) return payload;
  const bytes = payload instanceof Uint8Array ? payload : typeof payload === 'string' ? decodeBase64(payload) : undefined;
  if (bytes === undefined) {
    throw new DeviceMessageError(
      'not-an-event',
      `the MessageEnvelope's payload is neither an event nor base64 of one: expected ${EXPECTED}`,
    );
  }
  const inner = parseMessage(bytes, "the MessageEnvelope's payload");
  if (!isObject(inner)) {
    throw new DeviceMessageError('not-an-event', `the MessageEnvelope's payload is not an object: expected ${EXPECTED}`);
  }
  return inner;
}

function finite(x: number, where: string): number {
  if (!Number.isFinite(x)) throw new DeviceMessageError('not-finite', `${where} is ${x}: a model input needs finite numbers`);
  return x;
}

function parseNumber(text: string, where: string, boolean: boolean): number {
  const t = text.trim();
  if (boolean) {
    if (TRUE.has(t)) return 1;
    if (FALSE.has(t)) return 0;
    throw new DeviceMessageError('bad-value', `${where} is ${quote(text)}: a Bool reading is true or false (or 1, 0, t, f)`);
  }
  if (NOT_FINITE.test(t)) throw new DeviceMessageError('not-finite', `${where} is ${quote(text)}: a model input needs finite numbers`);
  if (!NUMBER.test(t)) {
    throw new DeviceMessageError('bad-value', `${where} is ${quote(text)}: expected a decimal number such as 21.5 or 1.5e+01`);
  }
  return finite(Number(t), where);
}

function numberOf(value: unknown, where: string, boolean: boolean): number {
  if (typeof value === 'string') return parseNumber(value, where, boolean);
  if (typeof value === 'number') return finite(value, where);
  if (typeof value === 'boolean') return value ? 1 : 0;
  throw new DeviceMessageError('bad-value', `${where} is ${value === null ? 'null' : typeof value}: expected a number in a string`);
}

function arrayOf(value: unknown, where: string, boolean: boolean): number[] {
  if (Array.isArray(value)) return value.map((v, i) => numberOf(v, `${where}[${i}]`, boolean));
  if (typeof value !== 'string') {
    throw new DeviceMessageError(
      'bad-value',
      `${where} is ${value === null ? 'null' : typeof value}: expected an array in a string such as "[1.5, 2]"`,
    );
  }
  const t = value.trim();
  if (!t.startsWith('[') || !t.endsWith(']')) {
    throw new DeviceMessageError('bad-value', `${where} is ${quote(value)}: expected an array such as "[1.5, 2]"`);
  }
  const inner = t.slice(1, -1).trim();
  if (inner === '') return [];
  // Go's fmt writes integer arrays as "[1 2 3]"; EdgeX turns the spaces into ", ". Accept either.
  return inner.split(inner.includes(',') ? ',' : /\s+/).map((part, i) => parseNumber(part, `${where}[${i}]`, boolean));
}

function readingOf(event: Json, raw: unknown, index: number, count: number): DeviceReading {
  if (!isObject(raw)) {
    throw new DeviceMessageError('not-an-event', `readings[${index}] is not an object: expected {resourceName, valueType, value}`);
  }
  // EdgeX's optimised payload (EDGEX_OPTIMIZE_EVENT_PAYLOAD) leaves the device, the origin and a lone reading's resourceName to the event.
  const resource = nonEmpty(raw.resourceName) ? raw.resourceName : count === 1 && nonEmpty(event.sourceName) ? event.sourceName : undefined;
  const device = nonEmpty(raw.deviceName) ? raw.deviceName : nonEmpty(event.deviceName) ? event.deviceName : undefined;
  if (resource === undefined) {
    throw new DeviceMessageError('not-an-event', `readings[${index}] has no resourceName: expected the device resource it reads`);
  }
  if (device === undefined) {
    throw new DeviceMessageError('not-an-event', `readings[${index}] ("${resource}") has no deviceName, nor has its event`);
  }
  const name = `reading "${resource}" of device "${device}"`;
  const origin = validOrigin(raw.origin) ?? validOrigin(event.origin);
  if (origin === undefined) {
    throw new DeviceMessageError('bad-time', `${name} has no origin, nor has its event: expected the time in nanoseconds since 1970`);
  }
  const time = originSeconds(origin);
  if (!Number.isFinite(time)) {
    throw new DeviceMessageError('bad-time', `${name} has origin ${origin}: expected the time in nanoseconds since 1970`);
  }
  const valueType = typeof raw.valueType === 'string' ? raw.valueType : '';
  const type = valueType.toLowerCase();
  const base = { device, resource, time };
  if (type === 'binary') {
    // A byte string when the event came as CBOR, base64 when it came as JSON.
    const binary = raw.binaryValue;
    const bytes = binary instanceof Uint8Array ? binary : typeof binary === 'string' ? decodeBase64(binary) : undefined;
    if (bytes === undefined) {
      const what = binary === undefined || binary === null ? 'no binaryValue' : 'a binaryValue that is not base64';
      throw new DeviceMessageError(
        binary === undefined || binary === null ? 'no-value' : 'bad-binary',
        `${name} is Binary with ${what}: expected base64 bytes (EdgeX's JSON of a Binary reading)`,
      );
    }
    return { ...base, values: Array.from(bytes), ...(nonEmpty(raw.mediaType) ? { mediaType: raw.mediaType } : {}) };
  }
  if ((raw.value === null || raw.value === undefined) && raw.objectValue === undefined) {
    throw new DeviceMessageError('no-value', `${name} has no value (a null reading): expected a number`);
  }
  if (NUMERIC_TYPES.has(type) || type === 'bool') return { ...base, value: numberOf(raw.value, name, type === 'bool') };
  if (type.endsWith('array') && (NUMERIC_TYPES.has(type.slice(0, -5)) || type === 'boolarray')) {
    return { ...base, values: arrayOf(raw.value, name, type === 'boolarray') };
  }
  if (type === 'object' || type === 'objectarray') {
    const v = raw.objectValue;
    if (typeof v === 'number') return { ...base, value: finite(v, name) };
    if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return { ...base, values: v.map((x, i) => finite(x, `${name}[${i}]`)) };
  }
  throw new DeviceMessageError(
    'wrong-value-type',
    `${name} has valueType ${valueType === '' ? '(none)' : valueType}: a model input needs a number, a number array or Binary`,
  );
}

function validOrigin(v: unknown): number | string | undefined {
  if (typeof v === 'number' && Number.isFinite(v) && v !== 0) return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v) && !/^-?0+$/.test(v)) return v;
  return undefined;
}

/**
 * EdgeX readings → device readings. Takes a bare v3 event (JSON, or CBOR as EdgeX's device SDK
 * sends events with a Binary reading) or a MessageEnvelope around one (its payload the event
 * object, or base64 of the event's JSON or CBOR). Numbers come as strings ("21.5",
 * "1.5e+01"), Bool as 0/1, arrays ("[1, 2]") and Binary (base64 bytes) as `values`. Throws only
 * DeviceMessageError.
 */
export function decodeEdgexMessage(payload: Uint8Array, options: DecodeOptions = {}): DeviceReading[] {
  checkSize(payload, options.maxBytes);
  const event = unwrap(parseMessage(payload, 'the message'));
  const readings = event.readings;
  if (!Array.isArray(readings) || readings.length === 0) {
    throw new DeviceMessageError('not-an-event', `the message has no readings: expected ${EXPECTED}`);
  }
  const out: DeviceReading[] = [];
  const seen = new Set<string>();
  readings.forEach((raw, i) => {
    if (options.resource !== undefined && isObject(raw)) {
      const name = nonEmpty(raw.resourceName) ? raw.resourceName : readings.length === 1 ? event.sourceName : undefined;
      if (typeof name === 'string') seen.add(name);
      if (name !== options.resource) return;
    }
    out.push(readingOf(event, raw, i, readings.length));
  });
  if (options.resource !== undefined && out.length === 0) {
    const device = nonEmpty(event.deviceName) ? ` of device "${event.deviceName}"` : '';
    const had =
      seen.size > 0
        ? `it has ${[...seen]
            .slice(0, 5)
            .map((s) => `"${s}"`)
            .join(', ')}`
        : 'it names none';
    throw new DeviceMessageError(
      'unknown-resource',
      `the event${device} has no reading of resource "${options.resource}" (${had}): check the binding's resource`,
    );
  }
  return out;
}

/** Go's strconv.FormatFloat(x, 'e', -1, 64), as EdgeX writes floats: 15 → "1.5e+01". */
export function formatEdgexFloat(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : '-Inf';
  if (Object.is(x, -0)) return '-0e+00'; // toExponential drops the sign of zero; Go keeps it
  return x.toExponential().replace(/e([+-])(\d)$/, (_, sign: string, digit: string) => `e${sign}0${digit}`);
}

/** Unix seconds → EdgeX nanoseconds as an integer literal (more digits than a double holds), to the microsecond. */
export function nanosecondLiteral(seconds: number): string {
  return (BigInt(Math.round(seconds * 1e6)) * 1000n).toString();
}

function edgexReading(name: string, values: number[] | boolean[]): { resourceName: string; valueType: string; value: string } {
  const bool = values.length > 0 && typeof values[0] === 'boolean';
  const text = (v: number | boolean): string => (typeof v === 'boolean' ? String(v) : formatEdgexFloat(v));
  if (values.length === 1) return { resourceName: name, valueType: bool ? 'Bool' : 'Float64', value: text(values[0]!) };
  return {
    resourceName: name,
    valueType: bool ? 'BoolArray' : 'Float64Array',
    value: `[${(values as Array<number | boolean>).map(text).join(', ')}]`,
  };
}

/** `{"origin":<ns>, …rest}`: the origin stays an integer literal however many digits it has. */
const withOrigin = (ns: string, rest: object): string => `{"origin":${ns},${JSON.stringify(rest).slice(1)}`;

/**
 * A result → an EdgeX v3 event: one reading per output (a single value → Float64 or Bool, several →
 * Float64Array or BoolArray), sourceName the deployment, profileName "fogline", origin the input's
 * time in nanoseconds, tags {model, version, deployment, ranOn, startTime}.
 */
export function encodeEdgexResult(result: DeviceResult, options: { id?: string } = {}): Uint8Array {
  const ns = nanosecondLiteral(result.time);
  const tags: Record<string, unknown> = { model: result.model, version: result.version, deployment: result.deployment };
  if (result.ranOn !== undefined) tags.ranOn = result.ranOn;
  if (result.startTime !== undefined) tags.startTime = result.startTime;
  const readings = result.outputs.map((output) =>
    withOrigin(ns, { deviceName: result.device, profileName: 'fogline', ...edgexReading(output.name, output.values) }),
  );
  const head = {
    apiVersion: 'v3',
    id: options.id ?? randomUUID(),
    deviceName: result.device,
    profileName: 'fogline',
    sourceName: result.deployment,
  };
  const json = `${JSON.stringify(head).slice(0, -1)},"origin":${ns},"readings":[${readings.join(',')}],"tags":${JSON.stringify(tags)}}`;
  return new TextEncoder().encode(json);
}
