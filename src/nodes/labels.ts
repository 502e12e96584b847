import { FoglineError } from '../errors/fogline-error.js';

/**
 * Kubernetes label syntax. A key is an optional DNS-subdomain prefix and a slash, then a name
 * of at most 63 characters; a value is empty or a name-like string of at most 63 characters.
 */
const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const PREFIX = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const MAX_LABELS = 64;

export type LabelMap = Record<string, string>;

/** Why `key` is not a valid label key, or undefined when it is. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !PREFIX.test(prefix))) {
    return `label key "${key}" has an invalid prefix: use a lowercase DNS name such as example.com/`;
  }
  if (name.length === 0 || name.length > 63 || !NAME.test(name)) {
    return `label key "${key}" must be 1-63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit`;
  }
  return undefined;
}

/** Why `value` is not a valid label value, or undefined when it is. */
export function labelValueProblem(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63 || !NAME.test(value)) {
    return `label value "${value}" must be at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit`;
  }
  return undefined;
}

/** Throws FOGLINE_ERR_LABEL_INVALID naming the first bad key or value. */
export function assertValidLabels(labels: LabelMap): void {
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) {
    throw new FoglineError('FOGLINE_ERR_LABEL_INVALID', `at most ${MAX_LABELS} labels are allowed`);
  }
  for (const [key, value] of entries) {
    const problem = labelKeyProblem(key) ?? labelValueProblem(value);
    if (problem) throw new FoglineError('FOGLINE_ERR_LABEL_INVALID', problem);
  }
}

/** Parses `k=v,k2=v2` (the CLI's and selectors' form). An empty string is no labels. */
export function parseLabelList(text: string): LabelMap {
  const labels: LabelMap = {};
  for (const part of text.split(',')) {
    const item = part.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0) {
      throw new FoglineError('FOGLINE_ERR_LABEL_INVALID', `"${item}" is not key=value (for example site=plant-a)`);
    }
    labels[item.slice(0, eq)] = item.slice(eq + 1);
  }
  assertValidLabels(labels);
  return labels;
}

export function formatLabels(labels: LabelMap): string {
  return Object.entries(labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
}

/** True when every selector label is present on `labels` with the same value. */
export function matchesSelector(labels: LabelMap, selector: LabelMap): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}
