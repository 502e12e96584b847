import { FoglineError } from '../errors/fogline-error.js';
import { labelKeyProblem, labelValueProblem } from './labels.js';

/**
 * A label a join token allows its nodes to ask for, written `key=value`, where `*` in the key or
 * the value matches any run of characters (none included) and every other character matches
 * itself, case and all. `site=plant-*` allows `site=plant-a` and `site=plant-7`; `zone=*` allows
 * any zone; `example.com/*=*` any label under that prefix; `tier=gold` exactly that label.
 */
export interface LabelPattern {
  key: string;
  value: string;
}

/** Parses `key=value` with `*` wildcards; throws FOGLINE_ERR_LABEL_INVALID naming what is wrong. */
export function parseLabelPattern(text: string): LabelPattern {
  const eq = text.indexOf('=');
  if (eq <= 0) {
    throw new FoglineError('FOGLINE_ERR_LABEL_INVALID', `label pattern "${text}" is not key=value (for example site=plant-*)`);
  }
  const pattern = { key: text.slice(0, eq), value: text.slice(eq + 1) };
  // With each `*` read as one letter, a pattern must be a label: one that no label can match is a typo.
  const part = labelKeyProblem(pattern.key.replaceAll('*', 'x'))
    ? 'key'
    : labelValueProblem(pattern.value.replaceAll('*', 'x'))
      ? 'value'
      : undefined;
  if (part) {
    throw new FoglineError(
      'FOGLINE_ERR_LABEL_INVALID',
      `label pattern "${text}" matches no label: its ${part} must be a label ${part} (letters, digits, "-", "_", ".", a key's "prefix/"), with "*" for any run of characters`,
    );
  }
  return pattern;
}

export function formatLabelPattern(pattern: LabelPattern): string {
  return `${pattern.key}=${pattern.value}`;
}

/** True when some pattern matches both the key and the value. */
export function labelAllowed(patterns: readonly LabelPattern[], key: string, value: string): boolean {
  return patterns.some((pattern) => globMatches(pattern.key, key) && globMatches(pattern.value, value));
}

/**
 * Whole-string match of `pattern`, where `*` matches any run of characters. Linear in practice
 * and at worst the product of the two lengths (no regular expression, so no pathological backtracking).
 */
export function globMatches(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  // The last `*` seen, and where in the text its run currently ends.
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.length && pattern[p] === text[t]) {
      p++;
      t++;
    } else if (star >= 0) {
      // Let the last `*` take one more character and try again from there.
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}
