import { describe, expect, it } from 'vitest';
import { MlInputError } from '../errors.js';
import type { RegularSeries } from '../timeseries/series-types.js';
import { forecastRequestAt } from './forecast-request.js';

/** 10 hourly points 0..9 from 2018-01-01 00:00 UTC; point 4 was interpolated. */
const series: RegularSeries = {
  start: 1514764800,
  intervalSeconds: 3600,
  values: Float64Array.from({ length: 10 }, (_, i) => i),
  filled: Uint8Array.from({ length: 10 }, (_, i) => (i === 4 ? 1 : 0)),
};

describe('forecastRequestAt', () => {
  it('takes the window before the origin, the origin’s time and the actual values after it', () => {
    const request = forecastRequestAt(series, 6, { window: 4, horizon: 3 });
    expect(request.inputs).toEqual([
      { name: 'history', shape: [1, 4], datatype: 'FP32', data: [2, 3, 4, 5] },
      { name: 'start_time', shape: [1], datatype: 'INT64', data: [1514764800 + 6 * 3600] },
    ]);
    expect(request.startTime).toBe(1514764800 + 6 * 3600);
    expect(request.actual).toEqual([6, 7, 8]);
    expect(Array.from(request.filled)).toEqual([0, 0, 1, 0]);
    // Plain arrays: the request serialises as the protocol's JSON.
    expect(JSON.parse(JSON.stringify({ inputs: request.inputs }))).toEqual({ inputs: request.inputs });
  });

  it('forecasts past the end with no actual values, and refuses an origin whose history does not fit', () => {
    expect(forecastRequestAt(series, 10, { window: 4, horizon: 3 }).actual).toEqual([]);
    expect(forecastRequestAt(series, 9, { window: 4, horizon: 3 }).actual).toEqual([9]);
    expect(() => forecastRequestAt(series, 3, { window: 4, horizon: 3 })).toThrow(MlInputError);
    expect(() => forecastRequestAt(series, 3, { window: 4, horizon: 3 })).toThrow(
      /needs the 4 points before it; the series starts at 2018-01-01 00:00:00/,
    );
    expect(() => forecastRequestAt(series, 11, { window: 4, horizon: 3 })).toThrow(/past the series' end \(2018-01-01 09:00:00\)/);
  });
});
