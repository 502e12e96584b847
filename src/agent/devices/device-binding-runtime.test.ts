import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeviceBinding } from '../../contracts/devices.js';
import type { V2InferRequest } from '../../contracts/open-inference.js';
import type { InferenceResult } from '../../inference/inference-call.js';
import { type BindingPorts, DeviceBindingRuntime } from './device-binding-runtime.js';

const HOUR = 3600;
const T0 = 1_700_000_000 - (1_700_000_000 % HOUR);
const BINDING: DeviceBinding = {
  input: 'plant/+/load',
  output: 'out/{deployment}/{device}',
  format: 'json',
  resource: null,
  deadLetter: 'dead/{deployment}',
};

/** A three-hour "forecaster" that answers the sum of its window: enough to tell windows apart. */
function summingModel(): BindingPorts['infer'] {
  return async (_deployment: string, request: V2InferRequest): Promise<InferenceResult> => {
    const history = request.inputs.find((i) => i.name === 'history')!.data as number[];
    return {
      modelName: 'load',
      modelVersion: '3',
      outputs: [{ name: 'forecast', shape: [1, 1], datatype: 'FP32', data: [history.reduce((s, v) => s + v, 0)] }],
    };
  };
}

interface Published {
  topic: string;
  body: { device?: string; time?: number; version?: number; outputs?: { forecast: number[] }; reason?: string };
}

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function start(
  dir: string,
  options: { publish?: BindingPorts['publish']; infer?: BindingPorts['infer'] } = {},
): { runtime: DeviceBindingRuntime; published: Published[] } {
  const published: Published[] = [];
  const runtime = new DeviceBindingRuntime(
    { deployment: 'load', model: 'energy', binding: BINDING, plan: { mode: 'forecast', history: 3 }, intervalSeconds: HOUR, dataDir: dir },
    {
      infer: options.infer ?? summingModel(),
      recordActual: () => undefined,
      publish:
        options.publish ??
        (async (topic, payload) => {
          published.push({ topic, body: JSON.parse(payload.toString()) as Published['body'] });
        }),
      observer: { message: () => undefined, result: () => undefined, deadLetter: () => undefined },
      warn: () => undefined,
    },
  );
  return { runtime, published };
}

const reading = (device: string, hour: number, value: number) => Buffer.from(JSON.stringify({ device, time: T0 + hour * HOUR, value }));
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fogline-binding-'));
  dirs.push(dir);
  return dir;
}

describe('DeviceBindingRuntime', () => {
  it('predicts once a device has a full window, per device, and publishes to its topic', async () => {
    const { runtime, published } = start(tempDir());
    for (let h = 0; h < 4; h++) {
      await runtime.accept('plant/a/load', reading('a', h, h + 1));
      await runtime.accept('plant/b/load', reading('b', h, 10));
    }
    await settle();
    expect(published.map((p) => [p.topic, p.body.time, p.body.outputs!.forecast[0]])).toEqual([
      ['out/load/a', T0 + 2 * HOUR, 6],
      ['out/load/b', T0 + 2 * HOUR, 30],
      ['out/load/a', T0 + 3 * HOUR, 9],
      ['out/load/b', T0 + 3 * HOUR, 30],
    ]);
    expect(published[0]!.body).toMatchObject({ device: 'a', version: 3, model: 'energy' });
    expect(runtime.counts).toEqual({ messages: 8, predictions: 4, deadLetters: 0 });
    await runtime.stop();
  });

  it('after a kill, predicts the logged readings that had no result yet and publishes again what the broker never acknowledged', async () => {
    const dir = tempDir();
    // The broker never acknowledges, and the model hangs on the fourth reading's window.
    let calls = 0;
    const hanging: BindingPorts['infer'] = (deployment, request) =>
      ++calls >= 2 ? new Promise(() => undefined) : summingModel()(deployment, request);
    const first = start(dir, { publish: () => new Promise(() => undefined), infer: hanging });
    for (let h = 0; h < 4; h++) await first.runtime.accept('plant/a/load', reading('a', h, h + 1));
    await settle();
    // Killed here: no stop(). A new process opens the same log.
    const second = start(dir);
    await settle();
    expect(second.published.map((p) => [p.body.time, p.body.outputs!.forecast[0]])).toEqual([
      [T0 + 2 * HOUR, 6], // published before, never acknowledged: sent again
      [T0 + 3 * HOUR, 9], // logged, never predicted: predicted now
    ]);
    // The same reading delivered again by the broker (its acknowledgement was lost) makes no second result.
    await second.runtime.accept('plant/a/load', reading('a', 3, 4));
    await second.runtime.accept('plant/a/load', reading('a', 4, 5));
    await settle();
    expect(second.published.map((p) => p.body.time)).toEqual([T0 + 2 * HOUR, T0 + 3 * HOUR, T0 + 4 * HOUR]);
    expect(second.published.at(-1)!.body.outputs!.forecast[0]).toBe(12);
    await second.runtime.stop();
    // Everything acknowledged now: a third start has nothing to send.
    const third = start(dir);
    await settle();
    expect(third.published).toEqual([]);
    await third.runtime.stop();
  });

  it('sends a message it cannot use to the dead letters with the reason, and keeps its windows as they were', async () => {
    const { runtime, published } = start(tempDir());
    for (let h = 0; h < 2; h++) await runtime.accept('plant/a/load', reading('a', h, 1));
    await runtime.accept('plant/a/load', Buffer.from('{"device":"a","time":'));
    await runtime.accept('plant/a/load', Buffer.from(JSON.stringify({ device: 'a', time: T0 + 2 * HOUR, value: 'high' })));
    await runtime.accept('plant/a/load', reading('a', 2, 1));
    await settle();
    expect(published.map((p) => p.topic)).toEqual(['dead/load', 'dead/load', 'out/load/a']);
    expect(published[0]!.body.reason).toBe('malformed-json');
    expect(published[2]!.body.outputs!.forecast[0]).toBe(3);
    expect(runtime.counts.deadLetters).toBe(2);
    await runtime.stop();
  });

  it('takes any bytes without throwing: either a dead letter or a logged reading, never a result from garbage', async () => {
    const { runtime, published } = start(tempDir());
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), async (bytes) => {
        const before = published.length;
        await runtime.accept('plant/x/load', Buffer.from(bytes));
        await new Promise((resolve) => setImmediate(resolve));
        expect(published.slice(before).every((p) => p.topic === 'dead/load' || p.topic.startsWith('out/load/'))).toBe(true);
      }),
      { numRuns: 200 },
    );
    expect(published.filter((p) => p.topic.startsWith('out/'))).toEqual([]);
    await runtime.stop();
  });
});
