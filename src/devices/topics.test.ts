import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FoglineError } from '../errors/fogline-error.js';
import { checkOutputTemplate, checkTopicFilter, deviceFromTopic, renderOutputTopic, topicLevel, topicMatches } from './topics.js';

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof FoglineError) return error.code;
    throw error;
  }
  return 'none';
}

/** MQTT matching, written the slow obvious way: a regular expression per filter. */
function reference(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && /^[+#]/.test(filter)) return false;
  const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const levels = filter.split('/');
  let pattern = '';
  levels.forEach((level, i) => {
    if (level === '#') pattern += i === 0 ? '.*' : '(?:/.*)?';
    else pattern += (i === 0 ? '' : '/') + (level === '+' ? '[^/]*' : escape(level));
  });
  return new RegExp(`^${pattern}$`, 's').test(topic);
}

describe('checkTopicFilter', () => {
  it('accepts MQTT filters and refuses misplaced wildcards, empty filters, NUL and oversized ones', () => {
    for (const ok of ['edgex/events/device/#', 'sensors/+/load', '#', '+', '/', 'a//b', '+/+/#'])
      expect(codeOf(() => checkTopicFilter(ok))).toBe('none');
    for (const bad of ['', 'a/#/b', 'a#', 'a/b#', 'a+/b', 'a/+b', 'a\u0000b', 'x'.repeat(65_536)]) {
      expect([bad.slice(0, 10), codeOf(() => checkTopicFilter(bad))]).toEqual([bad.slice(0, 10), 'FOGLINE_ERR_REQUEST_INVALID']);
    }
    expect(() => checkTopicFilter('a/#/b')).toThrow('"#" that is not the whole last level');
  });
});

describe('topicMatches', () => {
  it('follows the MQTT rules', () => {
    expect(topicMatches('sport/#', 'sport')).toBe(true);
    expect(topicMatches('sport/#', 'sport/tennis/player1')).toBe(true);
    expect(topicMatches('sport/+', 'sport')).toBe(false);
    expect(topicMatches('sport/+', 'sport/')).toBe(true);
    expect(topicMatches('+/+', '/finance')).toBe(true);
    expect(topicMatches('#', '$SYS/broker')).toBe(false);
    expect(topicMatches('$SYS/#', '$SYS/broker')).toBe(true);
    expect(topicMatches('a/b', 'a/b/c')).toBe(false);
  });

  it('agrees with a regular-expression reference on random filters and topics', () => {
    const level = fc.constantFrom('a', 'b', '', '$x', 'meter-7');
    const topic = fc.array(level, { minLength: 1, maxLength: 4 }).map((l) => l.join('/'));
    const filter = fc
      .tuple(fc.array(fc.oneof(level, fc.constant('+')), { minLength: 0, maxLength: 4 }), fc.boolean())
      .map(([levels, hash]) => [...levels, ...(hash ? ['#'] : [])].join('/'))
      .filter((f) => f.length > 0);
    fc.assert(
      fc.property(filter, topic, (f, t) => {
        checkTopicFilter(f);
        expect(topicMatches(f, t)).toBe(reference(f, t));
      }),
      { numRuns: 2000 },
    );
  });

  it('finds the device in the level of the first +', () => {
    expect(deviceFromTopic('sensors/+/load', 'sensors/meter-7/load')).toBe('meter-7');
    expect(deviceFromTopic('sensors/+/load', 'sensors/meter-7/temp')).toBeUndefined();
    expect(deviceFromTopic('sensors/#', 'sensors/meter-7')).toBeUndefined();
  });
});

describe('output topics', () => {
  it('allows only {deployment} and {device}, no wildcards', () => {
    expect(codeOf(() => checkOutputTemplate('fogline/{deployment}/{device}/result'))).toBe('none');
    expect(() => checkOutputTemplate('fogline/{model}/x')).toThrow('has the placeholder {model}: only {deployment} and {device} are known');
    expect(() => checkOutputTemplate('fogline/+/x')).toThrow('has a wildcard');
    expect(() => checkOutputTemplate('fogline/{device')).toThrow('unmatched brace');
    expect(() => checkOutputTemplate('fogline/device}')).toThrow('unmatched brace');
    expect(codeOf(() => checkOutputTemplate(''))).toBe('FOGLINE_ERR_REQUEST_INVALID');
  });

  it('percent-encodes what would change the levels, so a device name stays one level and names stay distinct', () => {
    expect(renderOutputTopic('fogline/{deployment}/{device}', { deployment: 'energy', device: 'line/3+#%' })).toBe(
      'fogline/energy/line%2F3%2B%23%25',
    );
    expect(renderOutputTopic('x/{device}', { deployment: 'e', device: 'a\u0000' })).toBe('x/a%00');
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 }), (a, b) => {
        const level = topicLevel(a);
        expect(['/', '+', '#', '\u0000'].filter((c) => level.includes(c))).toEqual([]);
        expect(decodeURIComponent(level)).toBe(a);
        if (a !== b) expect(topicLevel(b)).not.toBe(level);
      }),
    );
  });
});
