import { describe, expect, it } from 'vitest';
import { formatTimestamp } from '../ml/timeseries/timestamp.js';
import { forecasterShape } from '../inference/forecaster-shape.js';
import { forecastRequestFromCsv } from './csv-forecast-request.js';

const START = Date.UTC(2018, 0, 1) / 1000;
/** An hourly CSV of `hours` rows valued 1000 + i, leaving out the rows whose index `skip` says. */
function csv(hours: number, skip: (i: number) => boolean = () => false): string {
  const rows = ['time,load'];
  for (let i = 0; i < hours; i++) if (!skip(i)) rows.push(`${formatTimestamp(START + i * 3600)},${1000 + i}`);
  return rows.join('\n');
}

describe('forecasterShape', () => {
  it('reads the window and horizon from the V2 metadata, and refuses other inputs by name', () => {
    const forecaster = {
      name: 'energy',
      platform: 'fogline',
      inputs: [
        { name: 'history', datatype: 'FP32', shape: [-1, 48] },
        { name: 'start_time', datatype: 'INT64', shape: [-1] },
      ],
      outputs: [{ name: 'forecast', datatype: 'FP32', shape: [-1, 12] }],
    };
    expect(forecasterShape(forecaster)).toEqual({ window: 48, horizon: 12 });
    const classifier = { ...forecaster, name: 'digits', inputs: [{ name: 'image', datatype: 'FP32', shape: [-1, 8, 8, 1] }] };
    expect(() => forecasterShape(classifier)).toThrow(/^digits takes image \(FP32 \[-1, 8, 8, 1\]\), not a forecaster's history/);
  });
});

describe('forecastRequestFromCsv', () => {
  const shape = { window: 48, horizon: 12 };

  it('takes the window before the last horizon by default, and the one before --at', () => {
    const built = forecastRequestFromCsv(csv(100), shape, { file: 'load.csv' });
    expect(built.request.inputs[0]!.data).toEqual(Array.from({ length: 48 }, (_, i) => 1000 + 40 + i));
    expect(built.request.inputs[1]!.data).toEqual([START + 88 * 3600]);
    expect(built.description).toBe(
      'load.csv: history 2018-01-02 16:00:00 .. 2018-01-04 15:00:00 (48 points), forecast from 2018-01-04 16:00:00',
    );
    const at = forecastRequestFromCsv(csv(100), shape, { file: 'load.csv', at: '2018-01-05T04:00:00Z' });
    expect(at.request.inputs[1]!.data).toEqual([START + 100 * 3600]);
  });

  it('says when a missing hour in the history was interpolated, and refuses a history across a long gap', () => {
    const oneMissing = forecastRequestFromCsv(
      csv(100, (i) => i === 60),
      shape,
      { file: 'load.csv' },
    );
    expect(oneMissing.interpolated).toBe(1);
    expect(oneMissing.description).toContain('(48 points, 1 interpolated)');
    expect(() =>
      forecastRequestFromCsv(
        csv(200, (i) => i >= 130 && i < 160),
        shape,
        { file: 'load.csv' },
      ),
    ).toThrow(/load\.csv: 20 of the 48 history points before 2018-01-08 20:00:00 lie in a long gap of missing rows/);
  });
});
