import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FoglineError } from '../errors/fogline-error.js';
import { globMatches, labelAllowed, parseLabelPattern } from './label-pattern.js';

/** The obvious reference: `*` as `.*`, everything else literal, whole string. */
function reference(pattern: string, text: string): boolean {
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`, 's').test(text);
}

const letters = fc.constantFrom('a', 'b', '-', '.');
const text = fc.array(letters, { maxLength: 12 }).map((chars) => chars.join(''));
const pattern = fc.array(fc.oneof(letters, fc.constant('*')), { maxLength: 10 }).map((chars) => chars.join(''));

describe('label patterns', () => {
  it('match as the README says', () => {
    const allowed = ['site=plant-*', 'zone=*', 'example.com/*=on', 'tier=gold'].map(parseLabelPattern);
    expect(labelAllowed(allowed, 'site', 'plant-a')).toBe(true);
    expect(labelAllowed(allowed, 'site', 'plant-')).toBe(true);
    expect(labelAllowed(allowed, 'site', 'plant')).toBe(false);
    expect(labelAllowed(allowed, 'site', 'xplant-a')).toBe(false);
    expect(labelAllowed(allowed, 'Site', 'plant-a')).toBe(false);
    expect(labelAllowed(allowed, 'zone', '')).toBe(true);
    expect(labelAllowed(allowed, 'example.com/gpu', 'on')).toBe(true);
    expect(labelAllowed(allowed, 'example.com/gpu', 'off')).toBe(false);
    expect(labelAllowed(allowed, 'tier', 'gold')).toBe(true);
    expect(labelAllowed(allowed, 'tier', 'golden')).toBe(false);
    expect(labelAllowed([], 'site', 'plant-a')).toBe(false);
  });

  it('match exactly where the regular-expression reading matches', () => {
    fc.assert(
      fc.property(pattern, text, (p, t) => {
        expect(globMatches(p, t)).toBe(reference(p, t));
      }),
      { numRuns: 2000 },
    );
  });

  it('without a star, match only the text itself; a star alone matches anything', () => {
    fc.assert(
      fc.property(text, text, (p, t) => {
        expect(globMatches(p, t)).toBe(p === t);
        expect(globMatches('*', t)).toBe(true);
        expect(globMatches(`${p}*`, `${p}${t}`)).toBe(true);
        expect(globMatches(`*${p}`, `${t}${p}`)).toBe(true);
      }),
    );
  });

  it('do not blow up on many stars against a long label (no backtracking regular expression)', () => {
    const many = `${'a*'.repeat(30)}b`;
    expect(globMatches(many, 'a'.repeat(63))).toBe(false);
    expect(globMatches(many, `${'a'.repeat(62)}b`)).toBe(true);
  });

  it('are refused when no label could match them, with a coded error', () => {
    for (const bad of ['site', '=plant-*', 'si te=*', 'site=plant a', 'site=-*', 'Example.com/*=x']) {
      expect(() => parseLabelPattern(bad), bad).toThrow(FoglineError);
      try {
        parseLabelPattern(bad);
      } catch (error) {
        expect((error as FoglineError).code).toBe('FOGLINE_ERR_LABEL_INVALID');
      }
    }
    expect(parseLabelPattern('example.com/*=*')).toEqual({ key: 'example.com/*', value: '*' });
    expect(parseLabelPattern('site=')).toEqual({ key: 'site', value: '' });
  });
});
