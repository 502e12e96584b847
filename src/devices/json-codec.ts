import { parseTimestamp } from '../ml/timeseries/timestamp.js';
import { decodeBase64 } from './edgex-codec.js';
import { DEFAULT_MAX_MESSAGE_BYTES, type DeviceReading, type DeviceResult, DeviceMessageError, epochSeconds } from './device-reading.js';

export interface JsonDecodeOptions {
  /** Keep only readings of this resource; a reading without `resource` is taken to be of it. */
  resource?: string;
  /** Refuse larger messages ('too-large'); default 4 MiB. */
  maxBytes?: number;
  /** The device for readings that do not name one (e.g. from the topic: `deviceFromTopic`). */
  device?: string;
  /** Unix seconds for readings without a time (e.g. when the message arrived). */
  receivedAt?: number;
}

const EXPECTED =
  'expected {"device": "meter-7", "time": 1733560000 or "2024-12-07T08:00:00Z", "value": 21.5 (or [1, 2], or "binary": "<base64>")}, or an array of those';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function timeOf(raw: unknown, where: string, receivedAt: number | undefined): number {
  if (raw === undefined || raw === null) {
    if (receivedAt !== undefined && Number.isFinite(receivedAt)) return receivedAt;
    throw new DeviceMessageError('bad-time', `${where} has no time: ${EXPECTED}`);
  }
  const time =
    typeof raw === 'number' ? (Number.isFinite(raw) ? epochSeconds(raw) : null) : typeof raw === 'string' ? parseTimestamp(raw) : null;
  if (time === null) {
    throw new DeviceMessageError(
      'bad-time',
      `${where} has time ${JSON.stringify(raw)}: expected Unix seconds or an ISO 8601 time such as 2024-12-07T08:00:00Z`,
    );
  }
  return time;
}

function valueOf(raw: Json, where: string): Pick<DeviceReading, 'value' | 'values'> {
  const finite = (x: unknown, at: string): number => {
    if (typeof x === 'boolean') return x ? 1 : 0;
    if (typeof x !== 'number') {
      throw new DeviceMessageError(
        'wrong-value-type',
        `${at} is ${x === null ? 'null' : typeof x}: a model input needs a number, a number array or "binary" (base64)`,
      );
    }
    if (!Number.isFinite(x)) throw new DeviceMessageError('not-finite', `${at} is ${x}: a model input needs finite numbers`);
    return x;
  };
  if (typeof raw.binary === 'string') {
    const bytes = decodeBase64(raw.binary);
    if (bytes === undefined) {
      throw new DeviceMessageError('bad-binary', `${where} has a "binary" that is not base64: expected standard base64 bytes`);
    }
    return { values: Array.from(bytes) };
  }
  const value = raw.value;
  if (value === undefined || value === null) throw new DeviceMessageError('no-value', `${where} has no value: ${EXPECTED}`);
  if (Array.isArray(value)) return { values: value.map((x, i) => finite(x, `${where} value[${i}]`)) };
  return { value: finite(value, `${where} value`) };
}

/**
 * Plain JSON readings → device readings: `{device, time, value}` (value a number or a number
 * array; or `binary`, base64 bytes; optionally `resource`), or an array of them. Time is Unix
 * seconds (milliseconds and nanoseconds are recognised by size) or an ISO 8601 string. Throws only
 * DeviceMessageError.
 */
export function decodeJsonMessage(payload: Uint8Array, options: JsonDecodeOptions = {}): DeviceReading[] {
  const limit = options.maxBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (payload.byteLength > limit) {
    throw new DeviceMessageError('too-large', `the message has ${payload.byteLength} bytes: at most ${limit} are read (maxBytes)`);
  }
  let message: unknown;
  try {
    message = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch (error) {
    throw new DeviceMessageError('malformed-json', `the message is not JSON (${(error as Error).message}): ${EXPECTED}`);
  }
  const items = Array.isArray(message) ? message : [message];
  if (items.length === 0) throw new DeviceMessageError('not-an-event', `the message is an empty array: ${EXPECTED}`);
  const out: DeviceReading[] = [];
  const resources = new Set<string>();
  items.forEach((raw, i) => {
    const where = Array.isArray(message) ? `reading [${i}]` : 'the reading';
    if (!isObject(raw)) throw new DeviceMessageError('not-an-event', `${where} is not an object: ${EXPECTED}`);
    if (raw.resource !== undefined && typeof raw.resource !== 'string') {
      throw new DeviceMessageError('not-an-event', `${where} has a resource that is not a string`);
    }
    const resource = raw.resource ?? options.resource ?? 'value';
    resources.add(resource);
    if (options.resource !== undefined && resource !== options.resource) return;
    const device = typeof raw.device === 'string' && raw.device !== '' ? raw.device : options.device;
    if (device === undefined || device === '') throw new DeviceMessageError('not-an-event', `${where} names no device: ${EXPECTED}`);
    const named = `reading "${resource}" of device "${device}"`;
    out.push({ device, resource, time: timeOf(raw.time, named, options.receivedAt), ...valueOf(raw, named) });
  });
  if (out.length === 0) {
    const had = [...resources]
      .slice(0, 5)
      .map((r) => `"${r}"`)
      .join(', ');
    throw new DeviceMessageError(
      'unknown-resource',
      `the message has no reading of resource "${options.resource}" (it has ${had}): check the binding's resource`,
    );
  }
  return out;
}

/** A result → `{device, time, deployment, model, version, ranOn, startTime, outputs: {name: values}}` as JSON. */
export function encodeJsonResult(result: DeviceResult): Uint8Array {
  const outputs: Record<string, number[] | boolean[]> = {};
  for (const output of result.outputs) outputs[output.name] = output.values;
  const body = {
    device: result.device,
    time: result.time,
    deployment: result.deployment,
    model: result.model,
    version: result.version,
    ...(result.ranOn !== undefined ? { ranOn: result.ranOn } : {}),
    ...(result.startTime !== undefined ? { startTime: result.startTime } : {}),
    outputs,
  };
  return new TextEncoder().encode(JSON.stringify(body));
}
