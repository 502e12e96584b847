import { describe, expect, it } from 'vitest';
import { formatTimestamp, parseTimestamp } from './timestamp.js';

describe('parseTimestamp', () => {
  it('reads the energy files and NAB formats as UTC wall-clock time', () => {
    expect(parseTimestamp('2002-12-31 01:00:00')).toBe(Date.UTC(2002, 11, 31, 1) / 1000);
    expect(parseTimestamp('2013-12-15 07:00:00.000000')).toBe(Date.UTC(2013, 11, 15, 7) / 1000);
    expect(parseTimestamp('2014-05-14 01:14')).toBe(Date.UTC(2014, 4, 14, 1, 14) / 1000);
    expect(parseTimestamp('2014-05-14')).toBe(Date.UTC(2014, 4, 14) / 1000);
  });

  it('honours explicit zones and Unix seconds or milliseconds', () => {
    expect(parseTimestamp('2020-01-01T01:00:00+01:00')).toBe(Date.UTC(2020, 0, 1) / 1000);
    expect(parseTimestamp('2020-01-01T00:00:00Z')).toBe(Date.UTC(2020, 0, 1) / 1000);
    expect(parseTimestamp('1577836800')).toBe(1577836800);
    expect(parseTimestamp('1577836800500')).toBe(1577836800.5);
  });

  it('refuses what is not a real date and time', () => {
    for (const text of ['', 'yesterday', '2021-02-30 00:00:00', '2021-13-01', '2021-01-01 24:00:00', '12.5', '2021-01-01 10:61']) {
      expect(parseTimestamp(text), text).toBeNull();
    }
  });

  it('formats back to the energy files’ shape', () => {
    expect(formatTimestamp(parseTimestamp('2018-08-03 00:00:00')!)).toBe('2018-08-03 00:00:00');
  });
});
