import { FoglineError } from '../errors/fogline-error.js';

/** MQTT's limit on a topic (a UTF-8 string with a two-byte length). */
const MAX_TOPIC_BYTES = 65_535;

function invalid(message: string): FoglineError {
  return new FoglineError('FOGLINE_ERR_REQUEST_INVALID', message);
}

function checkLength(what: string, text: string): void {
  if (typeof text !== 'string' || text.length === 0) throw invalid(`${what} is empty: give a topic such as edgex/events/device/#`);
  if (Buffer.byteLength(text, 'utf8') > MAX_TOPIC_BYTES) throw invalid(`${what} is longer than MQTT's ${MAX_TOPIC_BYTES} bytes`);
  if (text.includes('\u0000')) throw invalid(`${what} contains a NUL character, which MQTT does not allow`);
}

/**
 * Checks an MQTT topic filter: `+` stands for one whole level, `#` for the rest and only as the
 * last level; not empty, at most 65,535 bytes, no NUL. Throws FoglineError FOGLINE_ERR_REQUEST_INVALID.
 */
export function checkTopicFilter(filter: string): void {
  checkLength(`the topic filter ${JSON.stringify(filter)}`, filter);
  const levels = filter.split('/');
  levels.forEach((level, i) => {
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) {
      throw invalid(`the topic filter ${JSON.stringify(filter)} has "#" that is not the whole last level: use e.g. sensors/#`);
    }
    if (level.includes('+') && level !== '+') {
      throw invalid(
        `the topic filter ${JSON.stringify(filter)} has "+" inside a level: "+" stands for a whole level, as in sensors/+/load`,
      );
    }
  });
}

/** Whether a topic (no wildcards) matches a filter, by MQTT's rules; `$…` topics only match filters that name their first level. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true; // also matches the parent level: sport/# matches sport
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** The level of `topic` that the filter's first `+` stands for (sensors/+/load, sensors/meter-7/load → meter-7). */
export function deviceFromTopic(filter: string, topic: string): string | undefined {
  if (!topicMatches(filter, topic)) return undefined;
  const at = filter.split('/').indexOf('+');
  return at < 0 ? undefined : topic.split('/')[at];
}

const PLACEHOLDER = /\{([^{}]*)\}/g;
const PLACEHOLDERS = new Set(['deployment', 'device']);

/**
 * Checks a result topic template: a topic without wildcards whose only placeholders are
 * `{deployment}` and `{device}`, e.g. `fogline/{deployment}/{device}/result`.
 */
export function checkOutputTemplate(template: string): void {
  checkLength(`the output topic ${JSON.stringify(template)}`, template);
  if (template.includes('+') || template.includes('#')) {
    throw invalid(
      `the output topic ${JSON.stringify(template)} has a wildcard (+ or #): results go to one topic; use {device} for a topic per device`,
    );
  }
  for (const match of template.matchAll(PLACEHOLDER)) {
    if (!PLACEHOLDERS.has(match[1]!)) {
      throw invalid(
        `the output topic ${JSON.stringify(template)} has the placeholder ${match[0]}: only {deployment} and {device} are known`,
      );
    }
  }
  if (/[{}]/.test(template.replace(PLACEHOLDER, ''))) {
    throw invalid(`the output topic ${JSON.stringify(template)} has an unmatched brace: write placeholders as {deployment} and {device}`);
  }
}

/**
 * Percent-encodes what would change a topic's levels: `%` → %25, `/` → %2F, `+` → %2B, `#` → %23,
 * NUL → %00. Different names stay different, and decodeURIComponent gives the name back.
 */
export function topicLevel(name: string): string {
  // eslint-disable-next-line no-control-regex -- NUL is one of the characters MQTT forbids in a topic
  return name.replace(/[%/+#\u0000]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/** Fills a checked template: fogline/{deployment}/{device} with device "line/3" → fogline/energy/line%2F3. */
export function renderOutputTopic(template: string, names: { deployment: string; device: string }): string {
  return template.replace(PLACEHOLDER, (_, key: string) => topicLevel(key === 'device' ? names.device : names.deployment));
}
