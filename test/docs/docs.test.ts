import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { currentConfigSection, renderConfigSection } from '../../scripts/generate-config-docs.js';
import { AGENT_OPTIONS } from '../../src/config/agent-options.js';
import { CLIENT_OPTIONS } from '../../src/config/client-options.js';
import type { OptionSpecs } from '../../src/config/options.js';
import { SERVER_OPTIONS } from '../../src/config/server-options.js';
import { UP_OPTIONS } from '../../src/config/up-options.js';
import { ERROR_CODES } from '../../src/errors/error-codes.js';

const read = (file: string) => fs.readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The table rows of one `## heading` section of a markdown file, as `code → status`. */
function documentedCodes(markdown: string, heading: string): Map<string, string> {
  const start = markdown.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`no "## ${heading}" section`);
  const end = markdown.indexOf('\n## ', start + 1);
  const section = markdown.slice(start, end < 0 ? undefined : end);
  const rows = new Map<string, string>();
  for (const match of section.matchAll(/^\|\s*`(FOGLINE_ERR_[A-Z0-9_]+)`\s*\|\s*(\d{3})\s*\|/gm)) {
    rows.set(match[1] as string, match[2] as string);
  }
  return rows;
}

describe('docs/errors.md', () => {
  const errors = read('docs/errors.md');
  const documented = documentedCodes(errors, 'Codes');

  it.each(Object.entries(ERROR_CODES))('documents %s with its HTTP status', (code, { status }) => {
    expect(documented.get(code), `${code} is missing from the table in docs/errors.md`).toBe(String(status));
  });

  it('lists no code that the registry lacks (retired codes go under "Retired codes")', () => {
    const unknown = [...documented.keys()].filter((code) => !(code in ERROR_CODES));
    expect(unknown).toEqual([]);
  });

  it('keeps retired codes out of the registry, so that none is reused', () => {
    const retired = documentedCodes(errors, 'Retired codes');
    expect([...retired.keys()].filter((code) => code in ERROR_CODES)).toEqual([]);
  });
});

describe('README.md configuration tables', () => {
  const readme = read('README.md');

  it('are what scripts/generate-config-docs.js generates (run `npm run docs:config` after changing src/config)', () => {
    expect(currentConfigSection(readme)).toBe(renderConfigSection());
  });

  const roles: Record<string, OptionSpecs> = {
    server: SERVER_OPTIONS,
    agent: AGENT_OPTIONS,
    up: UP_OPTIONS,
    client: CLIENT_OPTIONS,
  };
  const cases = Object.entries(roles).flatMap(([role, specs]) =>
    Object.entries(specs).map(([key, spec]) => ({ name: `${role}.${key}`, spec })),
  );

  it.each(cases)('list $name with its flag and variable', ({ spec }) => {
    const section = currentConfigSection(readme);
    const row = new RegExp(`^\\|\\s*\`${escapeRegExp(spec.flag)}\`\\s*\\|\\s*\`${escapeRegExp(spec.env)}\`\\s*\\|.+\\|$`, 'm');
    expect(section).toMatch(row);
    expect(readme).toContain(spec.env);
    expect(readme).toContain(spec.flag.split(' ')[0]);
  });
});
