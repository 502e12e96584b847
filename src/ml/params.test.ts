import { describe, expect, it } from 'vitest';
import { ANOMALY_PARAMS } from './anomaly/anomaly-params.js';
import { type MlInputError } from './errors.js';
import { FORECASTER_PARAMS, type ForecasterParams } from './forecast/forecaster-params.js';
import { IMAGE_CLASSIFIER_PARAMS } from './image/image-params.js';
import { resolveParams } from './params.js';

const problem = (fn: () => unknown): MlInputError => {
  try {
    fn();
  } catch (error) {
    return error as MlInputError;
  }
  throw new Error('expected an error');
};

describe('resolveParams', () => {
  it('fills in the documented defaults', () => {
    const params = resolveParams<ForecasterParams>(FORECASTER_PARAMS, { epochs: 3 });
    expect(params).toMatchObject({ window: 168, horizon: 24, epochs: 3, hidden: [64, 64], target: 'level' });
    expect(params.testPoints).toBeUndefined();
  });

  it('refuses unknown names, wrong types and out-of-range values, naming the parameter', () => {
    expect(problem(() => resolveParams(FORECASTER_PARAMS, { epoch: 3 })).message).toMatch(/Unknown parameter "epoch"/);
    expect(problem(() => resolveParams(FORECASTER_PARAMS, { epochs: 0 })).message).toMatch(/"epochs" must be between 1 and 1000/);
    expect(problem(() => resolveParams(FORECASTER_PARAMS, { epochs: 2.5 })).message).toMatch(/"epochs" must be an integer/);
    expect(problem(() => resolveParams(FORECASTER_PARAMS, { target: 'trend' })).message).toMatch(
      /one of level, daily-residual, weekly-residual/,
    );
    expect(problem(() => resolveParams(FORECASTER_PARAMS, { hidden: [0] })).problem).toBe('bad-parameter');
    expect(problem(() => resolveParams(FORECASTER_PARAMS, { calendar: 'yes' })).details).toEqual({ parameter: 'calendar' });
  });

  it('every table has a description and a valid default for each parameter', () => {
    for (const specs of [FORECASTER_PARAMS, ANOMALY_PARAMS, IMAGE_CLASSIFIER_PARAMS]) {
      expect(() => resolveParams(specs, {})).not.toThrow();
      for (const spec of Object.values(specs)) expect(spec.description.length).toBeGreaterThan(10);
    }
  });
});
