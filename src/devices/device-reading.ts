/** One reading from a device, as the decoders hand it to the windows and the model inputs. */
export interface DeviceReading {
  device: string;
  resource: string;
  /** Unix seconds (float) */
  time: number;
  /** numeric readings */
  value?: number;
  /** array or binary readings (Uint8 pixels, Float32Array, …) as numbers */
  values?: number[];
  /** Binary readings: the media type the device gave (EdgeX `mediaType`), e.g. `application/octet-stream`. */
  mediaType?: string;
}

/** Why a message went to the dead letters instead of a model; a stable label for metrics and logs. */
export const DEAD_LETTER_REASONS = [
  'malformed-json',
  'malformed-cbor',
  'not-an-event',
  'wrong-value-type',
  'no-value',
  'bad-value',
  'bad-time',
  'not-finite',
  'unknown-resource',
  'too-large',
  'bad-binary',
  'wrong-shape',
  'too-many-devices',
] as const;
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

/**
 * A device message Fogline cannot turn into a model input. The runtime publishes it to the dead
 * letters with `reason`; the message says what was wrong and what was expected.
 */
export class DeviceMessageError extends Error {
  constructor(
    readonly reason: DeadLetterReason,
    message: string,
  ) {
    super(message);
    this.name = 'DeviceMessageError';
  }
}

/** What a deployment answered for one device input, ready to publish (EdgeX or plain JSON). */
export interface DeviceResult {
  deployment: string;
  model: string;
  version: number;
  device: string;
  /** The input's time (the reading, or the window's newest slot), Unix seconds. */
  time: number;
  outputs: Array<{ name: string; values: number[] | boolean[] }>;
  ranOn?: 'edge' | 'cloud';
  /** Forecasts: the time of the first forecast point, Unix seconds. */
  startTime?: number;
}

/** Largest message the decoders read by default (4 MiB): enough for a small image as Binary. */
export const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/**
 * Unix time in seconds from a number whose unit is guessed by size: EdgeX writes nanoseconds, but
 * devices imitating it often send seconds or milliseconds. Seconds up to 1e11 (year 5138),
 * milliseconds up to 1e14, microseconds up to 1e17, nanoseconds above.
 */
export function epochSeconds(n: number): number {
  const abs = Math.abs(n);
  if (abs < 1e11) return n;
  if (abs < 1e14) return n / 1e3;
  if (abs < 1e17) return n / 1e6;
  return n / 1e9;
}

/**
 * An EdgeX `origin` → Unix seconds. Nanosecond origins exceed 2^53, so the decoders read long
 * integer literals as digit strings (see `parseJsonKeepingOrigins`) and convert them here with
 * BigInt, keeping the microseconds.
 */
export function originSeconds(origin: number | string): number {
  if (typeof origin === 'number') return epochSeconds(origin);
  const big = BigInt(origin);
  const abs = big < 0n ? -big : big;
  if (abs < 100_000_000_000_000_000n) return epochSeconds(Number(big));
  const seconds = Number(abs / 1_000_000n) / 1e3 + Number(abs % 1_000_000n) / 1e9;
  return big < 0n ? -seconds : seconds;
}

// Integer literals of 16 or more digits after an "origin" key: JSON.parse would round them.
const LONG_ORIGIN = /("origin"\s*:\s*)(-?\d{16,})(?=\s*[,}\]])/g;

/**
 * JSON.parse, except that long integer `origin` values come back as digit strings. Inside a JSON
 * string the quote after `origin` would be escaped, so the pattern only meets keys (at worst a key
 * ending in `\"origin`, whose long number then reads as a string).
 */
export function parseJsonKeepingOrigins(text: string): unknown {
  return JSON.parse(text.replace(LONG_ORIGIN, '$1"$2"'));
}
