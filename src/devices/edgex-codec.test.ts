import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type DeviceResult, DeviceMessageError, DEAD_LETTER_REASONS } from './device-reading.js';
import { decodeEdgexMessage, encodeEdgexResult, formatEdgexFloat, nanosecondLiteral } from './edgex-codec.js';
import { reasonOf } from './test-support/dead-letter-reason.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const json = (value: unknown): Uint8Array => bytes(JSON.stringify(value));

// An event as EdgeX 3's device-virtual publishes it (core-contracts v3 Event/BaseReading JSON):
// the origin is nanoseconds, more digits than a double holds; a simple reading carries binaryValue null.
const VIRTUAL_FLOAT_EVENT = `{"apiVersion":"v3","id":"249ac56f-d615-464b-8790-3d163c5b0478","deviceName":"Random-Float-Device","profileName":"Random-Float-Device","sourceName":"Float32","origin":1673740025362590213,"readings":[{"id":"841e09ec-aaa6-4d29-b9df-0f4532b8b6c0","origin":1673740025362590213,"deviceName":"Random-Float-Device","resourceName":"Float32","profileName":"Random-Float-Device","valueType":"Float32","binaryValue":null,"mediaType":"","value":"-6.552586e+36"}]}`;

// A Binary reading (device-virtual's Random-Binary-Device) and an array reading in one event.
const BINARY_EVENT = {
  apiVersion: 'v3',
  id: '6b0a6a3c-2f5a-4c39-9a3e-1f6f2b1d9f10',
  deviceName: 'camera-3',
  profileName: 'camera',
  sourceName: 'frame',
  origin: 1733560000123456789n,
  readings: [
    {
      id: 'b3c6e1d2-1111-4d7e-8a2b-1234567890ab',
      origin: 1733560000123456789n,
      deviceName: 'camera-3',
      resourceName: 'Binary',
      profileName: 'camera',
      valueType: 'Binary',
      binaryValue: Buffer.from([0, 1, 2, 255]).toString('base64'),
      mediaType: 'application/octet-stream',
    },
    {
      origin: 1733560001000000000n,
      deviceName: 'camera-3',
      resourceName: 'spectrum',
      profileName: 'camera',
      valueType: 'Float32Array',
      value: '[1.5e+00, 2, -3.25]',
    },
  ],
};
const bigJson = (value: unknown): string =>
  JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? `@@${v}@@` : v)).replace(/"@@(-?\d+)@@"/g, '$1');

describe('decodeEdgexMessage', () => {
  it('reads a real EdgeX v3 event: device, resource, value in e-notation, time from the nanosecond origin', () => {
    const [reading, ...rest] = decodeEdgexMessage(bytes(VIRTUAL_FLOAT_EVENT));
    expect(rest).toEqual([]);
    expect(reading).toEqual({ device: 'Random-Float-Device', resource: 'Float32', time: expect.any(Number), value: -6.552586e36 });
    // 1673740025362590213 ns: JSON.parse alone would round it to …590208; the microseconds survive.
    expect(reading!.time).toBeCloseTo(1673740025.36259, 6);
  });

  it('reads Binary readings as their bytes and array readings as numbers', () => {
    const readings = decodeEdgexMessage(bytes(bigJson(BINARY_EVENT)));
    expect(readings).toEqual([
      { device: 'camera-3', resource: 'Binary', time: expect.any(Number), values: [0, 1, 2, 255], mediaType: 'application/octet-stream' },
      { device: 'camera-3', resource: 'spectrum', time: 1733560001, values: [1.5, 2, -3.25] },
    ]);
    expect(readings[0]!.time).toBeCloseTo(1733560000.123457, 6);
  });

  it('takes a MessageEnvelope whose payload is the event object or base64 of its JSON', () => {
    const envelope = {
      apiVersion: 'v3',
      receivedTopic: 'edgex/events/device/virtual/Random-Float-Device/Float32',
      correlationID: 'c',
      requestID: '',
      errorCode: 0,
      contentType: 'application/json',
    };
    const asBase64 = decodeEdgexMessage(json({ ...envelope, payload: Buffer.from(VIRTUAL_FLOAT_EVENT).toString('base64') }));
    const asObject = decodeEdgexMessage(
      bytes(`{"apiVersion":"v3","errorCode":0,"contentType":"application/json","payload":${VIRTUAL_FLOAT_EVENT}}`),
    );
    expect(asBase64).toEqual(decodeEdgexMessage(bytes(VIRTUAL_FLOAT_EVENT)));
    expect(asObject).toEqual(asBase64);
    expect(reasonOf(() => decodeEdgexMessage(json({ ...envelope, contentType: 'application/cbor', payload: 'oA==' })))).toBe(
      'not-an-event',
    );
    expect(reasonOf(() => decodeEdgexMessage(json({ ...envelope, errorCode: 1, payload: 'ZXJy' })))).toBe('not-an-event');
  });

  it('reads every numeric value type, Bool as 0/1, integer arrays as Go prints them', () => {
    const event = (valueType: string, value: string): Uint8Array =>
      json({
        apiVersion: 'v3',
        deviceName: 'd',
        sourceName: 'r',
        origin: 1_700_000_000_000_000_000,
        readings: [{ resourceName: 'r', valueType, value }],
      });
    expect(decodeEdgexMessage(event('Int64', '-42'))[0]!.value).toBe(-42);
    expect(decodeEdgexMessage(event('Uint8', '255'))[0]!.value).toBe(255);
    expect(decodeEdgexMessage(event('Float64', '1.5e+01'))[0]!.value).toBe(15);
    expect(decodeEdgexMessage(event('Bool', 'true'))[0]!.value).toBe(1);
    expect(decodeEdgexMessage(event('Bool', 'F'))[0]!.value).toBe(0);
    expect(decodeEdgexMessage(event('Int16Array', '[1, -2, 3]'))[0]!.values).toEqual([1, -2, 3]);
    expect(decodeEdgexMessage(event('Uint8Array', '[1 2 3]'))[0]!.values).toEqual([1, 2, 3]);
    expect(decodeEdgexMessage(event('BoolArray', '[true, false]'))[0]!.values).toEqual([1, 0]);
    expect(decodeEdgexMessage(event('Float32Array', '[]'))[0]!.values).toEqual([]);
  });

  it('falls back to the event for a reading without origin, deviceName or (alone) resourceName: EdgeX optimised payloads', () => {
    const [reading] = decodeEdgexMessage(
      json({
        apiVersion: 'v3',
        deviceName: 'meter-7',
        sourceName: 'load',
        origin: 1_700_000_000_000,
        readings: [{ valueType: 'Float64', value: '3' }],
      }),
    );
    // 1.7e12 is milliseconds: devices that imitate EdgeX often send those.
    expect(reading).toEqual({ device: 'meter-7', resource: 'load', time: 1_700_000_000, value: 3 });
  });

  it("keeps only the binding's resource; none of it → unknown-resource", () => {
    const readings = decodeEdgexMessage(bytes(bigJson(BINARY_EVENT)), { resource: 'spectrum' });
    expect(readings.map((r) => r.resource)).toEqual(['spectrum']);
    let error: unknown;
    try {
      decodeEdgexMessage(bytes(VIRTUAL_FLOAT_EVENT), { resource: 'load' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DeviceMessageError);
    expect((error as DeviceMessageError).reason).toBe('unknown-resource');
    expect((error as Error).message).toBe(
      'the event of device "Random-Float-Device" has no reading of resource "load" (it has "Float32"): check the binding\'s resource',
    );
  });

  it('names the reading, what was wrong and what is expected', () => {
    const event = (reading: Record<string, unknown>): Uint8Array =>
      json({
        apiVersion: 'v3',
        deviceName: 'meter-7',
        sourceName: 'load',
        origin: 1_700_000_000_000_000_000,
        readings: [{ resourceName: 'load', ...reading }],
      });
    expect(() => decodeEdgexMessage(event({ valueType: 'String', value: 'high' }))).toThrow(
      'reading "load" of device "meter-7" has valueType String: a model input needs a number, a number array or Binary',
    );
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ valueType: 'Float64', value: 'NaN' }, 'not-finite'],
      [{ valueType: 'Float64', value: '+Inf' }, 'not-finite'],
      [{ valueType: 'Float64', value: '1e999' }, 'not-finite'],
      [{ valueType: 'Float64', value: '12 kW' }, 'bad-value'],
      [{ valueType: 'Float64', value: null }, 'no-value'],
      [{ valueType: 'Float32Array', value: '[1, NaN]' }, 'not-finite'],
      [{ valueType: 'Binary', binaryValue: 'not base64!' }, 'bad-binary'],
      [{ valueType: 'Object', objectValue: { a: 1 } }, 'wrong-value-type'],
    ];
    for (const [reading, reason] of cases) expect([reading, reasonOf(() => decodeEdgexMessage(event(reading)))]).toEqual([reading, reason]);
    expect(reasonOf(() => decodeEdgexMessage(bytes('{"readings": ')))).toBe('malformed-json');
    expect(reasonOf(() => decodeEdgexMessage(bytes('[1, 2]')))).toBe('not-an-event');
    expect(reasonOf(() => decodeEdgexMessage(json({ apiVersion: 'v3', readings: [] })))).toBe('not-an-event');
    expect(reasonOf(() => decodeEdgexMessage(bytes(VIRTUAL_FLOAT_EVENT), { maxBytes: 100 }))).toBe('too-large');
    expect(reasonOf(() => decodeEdgexMessage(new Uint8Array([0xff, 0xfe])))).toBe('malformed-json');
  });

  it('throws nothing but DeviceMessageError on arbitrary bytes and JSON, and never returns a non-finite number', () => {
    const readingLike = fc.record(
      {
        resourceName: fc.oneof(fc.constant('load'), fc.string({ maxLength: 5 })),
        deviceName: fc.string({ maxLength: 5 }),
        valueType: fc.constantFrom('Float64', 'Int8', 'Bool', 'Float32Array', 'BoolArray', 'Binary', 'String', 'Object', 'x'),
        value: fc.oneof(
          fc.string({ maxLength: 12 }),
          fc.double().map(String),
          fc.array(fc.double(), { maxLength: 4 }).map((a) => `[${a.join(', ')}]`),
          fc.jsonValue(),
        ),
        binaryValue: fc.oneof(fc.base64String({ maxLength: 12 }), fc.string({ maxLength: 8 })),
        objectValue: fc.jsonValue(),
        origin: fc.oneof(fc.integer(), fc.double(), fc.string({ maxLength: 20 }), fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n })),
      },
      { requiredKeys: [] },
    );
    const eventLike = fc.record(
      {
        apiVersion: fc.constant('v3'),
        deviceName: fc.string({ maxLength: 5 }),
        sourceName: fc.string({ maxLength: 5 }),
        origin: fc.oneof(fc.integer(), fc.bigInt({ min: 0n, max: 10n ** 19n })),
        readings: fc.oneof(fc.array(readingLike, { maxLength: 3 }), fc.jsonValue()),
      },
      { requiredKeys: [] },
    );
    const message = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc.jsonValue().map((v) => json(v)),
      eventLike.map((e) => bytes(bigJson(e))),
      eventLike.map((e) =>
        json({ apiVersion: 'v3', contentType: 'application/json', payload: Buffer.from(bigJson(e)).toString('base64') }),
      ),
    );
    fc.assert(
      fc.property(message, fc.option(fc.constant('load'), { nil: undefined }), (payload, resource) => {
        try {
          for (const r of decodeEdgexMessage(payload, { resource })) {
            expect(Number.isFinite(r.time)).toBe(true);
            for (const v of [...(r.value === undefined ? [] : [r.value]), ...(r.values ?? [])]) expect(Number.isFinite(v)).toBe(true);
          }
        } catch (error) {
          if (!(error instanceof DeviceMessageError)) throw error;
          expect(DEAD_LETTER_REASONS).toContain(error.reason);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('encodeEdgexResult', () => {
  const result: DeviceResult = {
    deployment: 'energy-edge',
    model: 'energy',
    version: 3,
    device: 'meter-7',
    time: 1733560000.123456,
    outputs: [
      { name: 'forecast', values: [1.5, 2, 1e-7] },
      { name: 'score', values: [0.25] },
      { name: 'anomaly', values: [true] },
    ],
    ranOn: 'edge',
    startTime: 1733563600,
  };

  it('writes an EdgeX v3 event: origin an integer literal in nanoseconds, floats as EdgeX formats them, tags', () => {
    const text = new TextDecoder().decode(encodeEdgexResult(result, { id: '3a1b0c62-0000-4000-8000-000000000001' }));
    expect(text).toContain('"origin":1733560000123456000,');
    const event = JSON.parse(text) as Record<string, unknown>;
    expect(event).toMatchObject({
      apiVersion: 'v3',
      id: '3a1b0c62-0000-4000-8000-000000000001',
      deviceName: 'meter-7',
      profileName: 'fogline',
      sourceName: 'energy-edge',
      tags: { model: 'energy', version: 3, deployment: 'energy-edge', ranOn: 'edge', startTime: 1733563600 },
      readings: [
        {
          deviceName: 'meter-7',
          profileName: 'fogline',
          resourceName: 'forecast',
          valueType: 'Float64Array',
          value: '[1.5e+00, 2e+00, 1e-07]',
        },
        { resourceName: 'score', valueType: 'Float64', value: '2.5e-01' },
        { resourceName: 'anomaly', valueType: 'Bool', value: 'true' },
      ],
    });
    expect(encodeEdgexResult(result)).not.toEqual(encodeEdgexResult(result)); // a fresh uuid each time
  });

  it('formats like Go: two-digit exponents, signed zero, NaN and ±Inf', () => {
    expect([15, -0.001, 1e100, 0, -0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY].map(formatEdgexFloat)).toEqual([
      '1.5e+01',
      '-1e-03',
      '1e+100',
      '0e+00',
      '-0e+00',
      'NaN',
      '+Inf',
      '-Inf',
    ]);
    expect(nanosecondLiteral(1)).toBe('1000000000');
  });

  it('round-trips through decodeEdgexMessage: device, time to the millisecond, values', () => {
    const output = fc.record({
      name: fc.stringMatching(/^[a-z_][a-z0-9_]{0,10}$/),
      values: fc.oneof(
        fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }),
      ),
    });
    const results = fc.record({
      deployment: fc.constant('d'),
      model: fc.constant('m'),
      version: fc.integer({ min: 1, max: 99 }),
      device: fc.string({ minLength: 1, maxLength: 12 }),
      // From 2001: smaller origins would be read as seconds, milliseconds or microseconds (epochSeconds).
      time: fc.double({ min: 1e9, max: 4e9, noNaN: true }),
      outputs: fc.uniqueArray(output, { minLength: 1, maxLength: 4, selector: (o) => o.name }),
    });
    fc.assert(
      fc.property(results, (r) => {
        const back = decodeEdgexMessage(encodeEdgexResult(r));
        expect(back).toHaveLength(r.outputs.length);
        back.forEach((reading, i) => {
          const output = r.outputs[i]!;
          expect(reading.device).toBe(r.device);
          expect(reading.resource).toBe(output.name);
          expect(Math.abs(reading.time - r.time)).toBeLessThan(1e-3);
          const numbers = (output.values as Array<number | boolean>).map(Number);
          expect(reading.values ?? [reading.value]).toEqual(numbers);
        });
      }),
      { numRuns: 300 },
    );
  });
});
