import { describe, expect, it } from 'vitest';
import { FoglineError } from '../errors/fogline-error.js';
import { anomalySignature } from '../ml/anomaly/anomaly-predictor.js';
import type { ForecastRecipe } from '../ml/forecast/forecast-recipe.js';
import { forecasterSignature } from '../ml/forecast/forecaster-predictor.js';
import { imageClassifierSignature } from '../ml/image/image-classifier-predictor.js';
import { DeviceMessageError } from './device-reading.js';
import { DeviceWindows } from './device-windows.js';
import { deviceInputPlan, readingRequest, resultOutputs, windowRequest } from './model-inputs.js';

describe('deviceInputPlan', () => {
  it("reads the plan from Fogline's own signatures: forecaster, anomaly detector, image classifier", () => {
    expect(deviceInputPlan(forecasterSignature(24, 6))).toEqual({ mode: 'forecast', history: 24 });
    expect(deviceInputPlan(anomalySignature({ forecast: { window: 24 } as ForecastRecipe, smoothing: 3 }))).toEqual({
      mode: 'score',
      history: 26,
    });
    expect(deviceInputPlan(imageClassifierSignature({ height: 8, width: 8, channels: 1, classNames: ['0', '1'] }))).toEqual({
      mode: 'per-reading',
      width: 64,
      input: 'image',
      datatype: 'FP32',
      rowShape: [8, 8, 1],
    });
    expect(deviceInputPlan({ inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 64] }], outputs: [] })).toMatchObject({
      mode: 'per-reading',
      width: 64,
    });
  });

  it('refuses a model it cannot feed, naming its inputs and what it can feed', () => {
    const io = {
      inputs: [
        { name: 'a', datatype: 'FP32', shape: [-1, 3] },
        { name: 'b', datatype: 'INT64', shape: [-1] },
      ],
      outputs: [],
    };
    expect(() => deviceInputPlan(io, 'energy')).toThrow(FoglineError);
    expect(() => deviceInputPlan(io, 'energy')).toThrow(
      'model energy takes inputs a FP32 [-1, 3], b INT64 [-1]: MQTT bindings feed forecasters (history, start_time), anomaly detectors (history, value) and models with one FP32 input of fixed size',
    );
    expect(() => deviceInputPlan({ inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, -1] }], outputs: [] })).toThrow(
      'takes inputs x FP32 [-1, -1]',
    );
    expect(() => deviceInputPlan({ inputs: [{ name: 'x', datatype: 'BYTES', shape: [-1, 4] }], outputs: [] })).toThrow(FoglineError);
  });
});

describe('requests', () => {
  it('turns due windows into forecaster and anomaly detector requests', () => {
    const forecast = new DeviceWindows({ intervalSeconds: 3600, history: 2, mode: 'forecast' });
    forecast.push({ device: 'm', time: 0, value: 1 });
    const step = forecast.push({ device: 'm', time: 3600, value: 2 });
    if (step.kind !== 'due') throw new Error('expected a due step');
    expect(windowRequest(step)).toEqual({
      inputs: [
        { name: 'history', shape: [1, 2], datatype: 'FP32', data: [1, 2] },
        { name: 'start_time', shape: [1], datatype: 'INT64', data: [7200] },
      ],
    });
    expect(windowRequest({ kind: 'due', device: 'm', slotTime: 60, history: [1, 2], value: 3 })).toEqual({
      inputs: [
        { name: 'history', shape: [1, 2], datatype: 'FP32', data: [1, 2] },
        { name: 'value', shape: [1], datatype: 'FP32', data: [3] },
      ],
    });
  });

  it('turns a reading into one row of the model input, refusing the wrong number of values', () => {
    const plan = deviceInputPlan(imageClassifierSignature({ height: 2, width: 2, channels: 1, classNames: ['a'] }));
    if (plan.mode !== 'per-reading') throw new Error('expected a per-reading plan');
    const reading = { device: 'cam', resource: 'Binary', time: 1, values: [0, 1, 2, 255] };
    expect(readingRequest(reading, plan)).toEqual({
      inputs: [{ name: 'image', shape: [1, 2, 2, 1], datatype: 'FP32', data: [0, 1, 2, 255] }],
    });
    expect(readingRequest({ device: 'd', resource: 'r', time: 1, value: 5 }, 1)).toEqual({
      inputs: [{ name: 'input', shape: [1, 1], datatype: 'FP32', data: [5] }],
    });
    let error: unknown;
    try {
      readingRequest({ ...reading, values: [1, 2, 3] }, plan);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DeviceMessageError);
    expect((error as DeviceMessageError).reason).toBe('wrong-shape');
    expect((error as Error).message).toBe(
      'reading "Binary" of device "cam" has 3 numbers: the model\'s input image takes 4 per row ([2, 2, 1])',
    );
  });

  it('flattens response outputs to values, leaving out BYTES', () => {
    expect(
      resultOutputs({
        outputs: [
          { name: 'forecast', shape: [1, 3], datatype: 'FP32', data: [[1, 2, 3]] },
          { name: 'anomaly', shape: [1], datatype: 'BOOL', data: [true] },
          { name: 'class', shape: [1], datatype: 'BYTES', data: ['cat'] },
        ],
      }),
    ).toEqual([
      { name: 'forecast', values: [1, 2, 3] },
      { name: 'anomaly', values: [true] },
    ]);
  });
});
