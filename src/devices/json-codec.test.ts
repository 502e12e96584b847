import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeviceMessageError } from './device-reading.js';
import { decodeJsonMessage, encodeJsonResult } from './json-codec.js';
import { reasonOf } from './test-support/dead-letter-reason.js';

const json = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

describe('decodeJsonMessage', () => {
  it('reads {device, time, value}: Unix seconds or ISO time, a number, an array or base64 binary', () => {
    expect(decodeJsonMessage(json({ device: 'meter-7', time: 1733560000, value: 21.5 }))).toEqual([
      { device: 'meter-7', resource: 'value', time: 1733560000, value: 21.5 },
    ]);
    expect(decodeJsonMessage(json({ device: 'm', time: '2024-12-07T08:26:40Z', value: [1, 2] }))).toEqual([
      { device: 'm', resource: 'value', time: 1733560000, values: [1, 2] },
    ]);
    expect(decodeJsonMessage(json({ device: 'm', time: 1733560000123, binary: 'AAH/' }))).toEqual([
      { device: 'm', resource: 'value', time: 1733560000.123, values: [0, 1, 255] },
    ]);
  });

  it("reads an array of readings, keeps the binding's resource, takes device and time from the options when missing", () => {
    const message = json([
      { resource: 'load', time: 10, value: 1 },
      { resource: 'temp', time: 10, value: 2 },
      { time: 11, value: 3 },
    ]);
    expect(decodeJsonMessage(message, { resource: 'load', device: 'from-topic' })).toEqual([
      { device: 'from-topic', resource: 'load', time: 10, value: 1 },
      { device: 'from-topic', resource: 'load', time: 11, value: 3 },
    ]);
    expect(decodeJsonMessage(json({ device: 'd', value: 4 }), { receivedAt: 99 })).toEqual([
      { device: 'd', resource: 'value', time: 99, value: 4 },
    ]);
    expect(() => decodeJsonMessage(json({ resource: 'temp', device: 'd', time: 1, value: 1 }), { resource: 'load' })).toThrow(
      'the message has no reading of resource "load" (it has "temp"): check the binding\'s resource',
    );
  });

  it('refuses what is not a reading, with the reason', () => {
    expect(reasonOf(() => decodeJsonMessage(json({ time: 1, value: 1 })))).toBe('not-an-event');
    expect(reasonOf(() => decodeJsonMessage(json({ device: 'd', value: 1 })))).toBe('bad-time');
    expect(reasonOf(() => decodeJsonMessage(json({ device: 'd', time: 'yesterday', value: 1 })))).toBe('bad-time');
    expect(reasonOf(() => decodeJsonMessage(json({ device: 'd', time: 1, value: 'high' })))).toBe('wrong-value-type');
    expect(reasonOf(() => decodeJsonMessage(json({ device: 'd', time: 1 })))).toBe('no-value');
    expect(reasonOf(() => decodeJsonMessage(json({ device: 'd', time: 1, binary: '***' })))).toBe('bad-binary');
    expect(reasonOf(() => decodeJsonMessage(new TextEncoder().encode('{"device": "d", "time": 1, "value": 1e999}')))).toBe('not-finite');
    expect(reasonOf(() => decodeJsonMessage(new TextEncoder().encode('{')))).toBe('malformed-json');
    expect(reasonOf(() => decodeJsonMessage(json([])))).toBe('not-an-event');
    expect(reasonOf(() => decodeJsonMessage(json({ device: 'd', time: 1, value: 1 }), { maxBytes: 5 }))).toBe('too-large');
  });

  it('throws nothing but DeviceMessageError on arbitrary bytes and JSON, and never returns a non-finite number', () => {
    const readingLike = fc.record(
      {
        device: fc.oneof(fc.string({ maxLength: 4 }), fc.jsonValue()),
        resource: fc.oneof(fc.constant('load'), fc.jsonValue()),
        time: fc.oneof(fc.double(), fc.string({ maxLength: 25 }), fc.jsonValue()),
        value: fc.oneof(fc.double(), fc.array(fc.oneof(fc.double(), fc.jsonValue()), { maxLength: 3 }), fc.jsonValue()),
        binary: fc.oneof(fc.base64String({ maxLength: 8 }), fc.string({ maxLength: 8 })),
      },
      { requiredKeys: [] },
    );
    const message = fc.oneof(
      fc.uint8Array({ maxLength: 48 }),
      fc.jsonValue().map(json),
      readingLike.map(json),
      fc.array(readingLike, { maxLength: 3 }).map(json),
    );
    const options = fc.record(
      { resource: fc.constant('load'), device: fc.string({ maxLength: 3 }), receivedAt: fc.double() },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(message, options, (payload, opts) => {
        try {
          for (const r of decodeJsonMessage(payload, opts)) {
            expect(Number.isFinite(r.time)).toBe(true);
            for (const v of [...(r.value === undefined ? [] : [r.value]), ...(r.values ?? [])]) expect(Number.isFinite(v)).toBe(true);
          }
        } catch (error) {
          if (!(error instanceof DeviceMessageError)) throw error;
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('encodeJsonResult', () => {
  it('writes {device, time, deployment, model, version, ranOn, startTime, outputs: {name: values}}', () => {
    const text = new TextDecoder().decode(
      encodeJsonResult({
        deployment: 'energy-edge',
        model: 'energy',
        version: 3,
        device: 'meter-7',
        time: 1733560000,
        outputs: [
          { name: 'forecast', values: [1, 2] },
          { name: 'anomaly', values: [false] },
        ],
        ranOn: 'cloud',
        startTime: 1733563600,
      }),
    );
    expect(JSON.parse(text)).toEqual({
      device: 'meter-7',
      time: 1733560000,
      deployment: 'energy-edge',
      model: 'energy',
      version: 3,
      ranOn: 'cloud',
      startTime: 1733563600,
      outputs: { forecast: [1, 2], anomaly: [false] },
    });
  });
});
