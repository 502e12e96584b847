import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FoglineError } from '../errors/fogline-error.js';
import { assertValidLabels, formatLabels, labelKeyProblem, labelValueProblem, matchesSelector, parseLabelList } from './labels.js';

const alnum = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'.split(''));
const middle = fc.constantFrom(...'abcxyzABC0189-_.'.split(''));
/** A valid label name: alphanumeric at both ends, at most 63 characters. */
const labelName = fc
  .tuple(alnum, fc.array(middle, { maxLength: 40 }), alnum)
  .map(([first, rest, last]) => `${first}${rest.join('')}${last}`)
  .filter((name) => name.length <= 63);
const labelMap = fc.dictionary(labelName, fc.oneof(labelName, fc.constant('')), { maxKeys: 10 });

describe('labels', () => {
  it('accepts Kubernetes-style keys and values', () => {
    expect(parseLabelList('site=plant-a,zone=north,example.com/tier=edge,empty=')).toEqual({
      site: 'plant-a',
      zone: 'north',
      'example.com/tier': 'edge',
      empty: '',
    });
  });

  it.each([
    ['bad key=x', 'label key'],
    ['-site=x', 'label key'],
    ['site=-x', 'label value'],
    [`k=${'v'.repeat(64)}`, 'label value'],
    ['UPPER.COM/k=v', 'invalid prefix'],
    ['noequals', 'not key=value'],
    ['=value', 'not key=value'],
  ])('refuses %s with a clear message', (text, fragment) => {
    expect(() => parseLabelList(text)).toThrowError(
      expect.objectContaining({ code: 'FOGLINE_ERR_LABEL_INVALID', message: expect.stringContaining(fragment) }),
    );
  });

  it('refuses more than 64 labels', () => {
    const labels = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
    expect(() => assertValidLabels(labels)).toThrow(/at most 64/);
  });

  it('round-trips any valid label map through its text form', () => {
    fc.assert(
      fc.property(labelMap, (labels) => {
        expect(parseLabelList(formatLabels(labels))).toEqual(labels);
      }),
    );
  });

  it('either accepts or refuses arbitrary text with a coded error, never anything else', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), fc.string({ maxLength: 80 }), (key, value) => {
        try {
          assertValidLabels({ [key]: value });
          expect(labelKeyProblem(key)).toBeUndefined();
          expect(labelValueProblem(value)).toBeUndefined();
        } catch (error) {
          expect(error).toBeInstanceOf(FoglineError);
          expect((error as FoglineError).code).toBe('FOGLINE_ERR_LABEL_INVALID');
        }
      }),
    );
  });

  it('matches a selector only when every selector label is equal', () => {
    fc.assert(
      fc.property(labelMap, labelMap, (labels, extra) => {
        expect(matchesSelector({ ...extra, ...labels }, labels)).toBe(true);
      }),
    );
    expect(matchesSelector({ site: 'plant-a' }, { site: 'plant-b' })).toBe(false);
    expect(matchesSelector({}, { site: 'plant-a' })).toBe(false);
  });
});
