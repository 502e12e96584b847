/**
 * The pure half of the docs test (scripts/readme-blocks.js): which README blocks run, with what
 * options and shown output, and when a command's output still matches the README's. The runs
 * themselves (real processes) are in readme-test-e2e.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  firstCommand,
  matchOutput,
  normaliseLine,
  parseArgs,
  parseMarker,
  parsePorts,
  parseReadme,
  selectBlocks,
  terminalLines,
} from '../../scripts/readme-blocks.js';

const FENCE = '```';
const md = (...lines: string[]) => lines.join('\n');

describe('parseReadme', () => {
  it('finds the marked sh blocks with their heading, line, code and shown output, and nothing else', () => {
    const { blocks, errors } = parseReadme(
      md(
        '# Fogline',
        '',
        `${FENCE}sh`,
        'npm ci && npm start',
        FENCE,
        '',
        '## See it work',
        '',
        '<!-- readme-test: run -->',
        '',
        `${FENCE}sh`,
        'npx fogline nodes list',
        'echo done',
        FENCE,
        '',
        `${FENCE}text`,
        'NAME  ID',
        FENCE,
        '',
        `${FENCE}text`,
        'a second text block is nobody’s output',
        FENCE,
      ),
    );
    expect(errors).toEqual([]);
    expect(blocks).toEqual([
      {
        index: 1,
        line: 11,
        heading: 'See it work',
        code: 'npx fogline nodes list\necho done',
        options: { timeoutS: 60, background: false, ready: undefined, expectFail: false },
        output: { line: 16, text: 'NAME  ID', checked: true },
      },
    ]);
  });

  it('reads timeout, background with a quoted or URL ready, and expect-fail', () => {
    const { blocks, errors } = parseReadme(
      md(
        '<!-- readme-test: run background timeout=120 ready="Fogline is up." -->',
        `${FENCE}sh`,
        'npm start',
        FENCE,
        '<!-- readme-test: run background ready=http://127.0.0.1:7071/readyz -->',
        `${FENCE}bash`,
        'npx fogline agent',
        FENCE,
        '<!-- readme-test: run expect-fail timeout=5 -->',
        `${FENCE}shell`,
        'npx fogline nodes get nobody',
        FENCE,
      ),
    );
    expect(errors).toEqual([]);
    expect(blocks.map((block) => block.options)).toEqual([
      { timeoutS: 120, background: true, ready: 'Fogline is up.', expectFail: false },
      { timeoutS: 60, background: true, ready: 'http://127.0.0.1:7071/readyz', expectFail: false },
      { timeoutS: 5, background: false, ready: undefined, expectFail: true },
    ]);
  });

  it('keeps a shown output that output-not-checked marks, unchecked', () => {
    const { blocks, errors } = parseReadme(
      md(
        '<!-- readme-test: run -->',
        `${FENCE}sh`,
        'date',
        FENCE,
        '',
        '<!-- readme-test: output-not-checked -->',
        '',
        `${FENCE}text`,
        'today',
        FENCE,
      ),
    );
    expect(errors).toEqual([]);
    expect(blocks[0]?.output).toEqual({ line: 8, text: 'today', checked: false });
  });

  it('does not take a text block as the output when prose sits between them', () => {
    const { blocks } = parseReadme(
      md('<!-- readme-test: run -->', `${FENCE}sh`, 'date', FENCE, 'It prints:', `${FENCE}text`, 'today', FENCE),
    );
    expect(blocks[0]?.output).toBeUndefined();
  });

  it('ignores markers shown inside code blocks and inline, and reads ~~~ and longer fences', () => {
    const { blocks, errors } = parseReadme(
      md(
        'Mark a block with `<!-- readme-test: run -->` above it:',
        '````markdown',
        '<!-- readme-test: run -->',
        `${FENCE}sh`,
        'rm -rf /',
        FENCE,
        '````',
        '<!-- readme-test: run -->',
        '~~~sh',
        'echo tilde',
        '~~~',
      ),
    );
    expect(errors).toEqual([]);
    expect(blocks.map((block) => block.code)).toEqual(['echo tilde']);
  });

  it.each([
    ['<!-- readme-test: run timout=5 -->', `${FENCE}sh`, 'unknown option "timout"'],
    ['<!-- readme-test: run timeout=soon -->', `${FENCE}sh`, 'timeout needs a number of seconds'],
    ['<!-- readme-test: run ready="x" -->', `${FENCE}sh`, 'ready= only goes with background'],
    ['<!-- readme-test: run background expect-fail -->', `${FENCE}sh`, 'expect-fail does not go with background'],
    ['<!-- readme-test run -->', `${FENCE}sh`, 'a colon after'],
    ['<!-- readme-test: execute -->', `${FENCE}sh`, 'unknown directive "execute"'],
    ['<!-- readme-test: run -->', `${FENCE}text`, 'only ```sh blocks run'],
    ['<!-- readme-test: run -->', 'Some prose.', 'not followed by a code block'],
    ['<!-- readme-test: output-not-checked -->', `${FENCE}text`, 'must sit between a runnable block'],
    ['Text <!-- readme-test: run --> inline', `${FENCE}sh`, undefined],
  ])('reports %s above %s with its line', (marker, next, problem) => {
    const { errors } = parseReadme(md('# Title', marker, next, 'echo hi', FENCE), 'DOC.md');
    if (problem === undefined) {
      expect(errors).toEqual([]);
    } else {
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(/^DOC\.md:2: /);
      expect(errors[0]).toContain(problem);
    }
  });

  it('reports a marker that is not alone on its line, and a runnable block that is never closed', () => {
    const { errors } = parseReadme(md('<!-- readme-test: run --> and more', '<!-- readme-test: run -->', `${FENCE}sh`, 'echo open'));
    expect(errors).toEqual([
      'README.md:1: a readme-test marker must be alone on its line: <!-- readme-test: run … -->',
      'README.md:3: this code block has no closing fence',
    ]);
  });

  it('reports an output-not-checked marker that no text block follows', () => {
    const { errors } = parseReadme(
      md('<!-- readme-test: run -->', `${FENCE}sh`, 'date', FENCE, '<!-- readme-test: output-not-checked -->', `${FENCE}sh`, 'date', FENCE),
    );
    expect(errors).toEqual(['README.md:5: output-not-checked must be followed by the ```text block that shows the output']);
  });
});

describe('parseMarker', () => {
  it('reads a quoted value with spaces and an unquoted URL', () => {
    expect(parseMarker(': run background ready="Fogline is up." timeout=2.5')).toEqual({
      directive: 'run',
      options: { timeoutS: 2.5, background: true, ready: 'Fogline is up.', expectFail: false },
    });
  });
});

describe('normaliseLine', () => {
  it.each([
    [
      'edge-1  389b0d799ee11fba  edge  online  8s ago     2 (load 2.33)  23GiB/24GiB  79GiB      site=plant-a',
      'edge-<n> <id> edge online <n> ago <n> (load <n>) <n>/<n> <n> site=plant-a',
    ],
    [
      '[demo] registered pjme-forecaster version 1: test MAPE 4.77% vs seasonal naive 7.28%',
      '[demo] registered pjme-forecaster version <n>: test MAPE <n> vs seasonal naive <n>',
    ],
    ['peak hour 14:00 forecast 46470 MW, 1:05 left, 1.5e-3 loss, -2 delta', 'peak hour <n> forecast <n> MW, <n> left, <n> loss, <n> delta'],
    [
      '  control plane  http://127.0.0.1:7070   (API: http://127.0.0.1:7070/api/v1/openapi.json)',
      'control plane http://<n> (API: http://<n>/api/v1/openapi.json)',
    ],
    ['created fgl.44b9b50dbac1dd0c._YjAH3Vt-vLy93m at 2026-12-06T21:55:38.123Z', 'created <token> at <time>'],
    ['export FOGLINE_TOKEN=fgl.…', 'export FOGLINE_TOKEN=<token>'],
    ['run 0c9a4a4e-2b4e-4f9a-9d1e-9f5b3c2a1d00 on edge-1 (v2) sha256 e3b0c44298fc', 'run <id> on edge-<n> (<n>) sha256 <id>'],
    ['[##########....................]  33%  epoch 2/6  ETA 12s', '<bar> <n> epoch <n>/<n> ETA <n>'],
    ['Node ed25519 key, fogline@0.1.0, x86 CPU', 'Node ed25519 key, fogline@<n>, x86 CPU'],
  ])('%s', (line, expected) => {
    expect(normaliseLine(line)).toBe(expected);
  });
});

describe('terminalLines', () => {
  it('shows what a terminal shows: no colours, the last redraw of a line, no trailing empty line', () => {
    expect(terminalLines('\x1b[32mok\x1b[0m\r\n[#...] 10%\r[###.] 75%\r[####] 100%\nend\n\n')).toEqual(['ok', '[####] 100%', 'end']);
  });
});

describe('matchOutput', () => {
  const shownTable = md(
    'NAME    ID                ROLE  STATUS  HEARTBEAT  CPU            MEMORY FREE  DISK FREE  LABELS',
    'edge-1  389b0d799ee11fba  edge  online  8s ago     2 (load 2.33)  23GiB/24GiB  79GiB      site=plant-a',
    'edge-2  4b7574fc24285a35  edge  online  7s ago     2 (load 2.33)  23GiB/24GiB  79GiB      site=plant-b',
  );
  const actualTable = md(
    'NAME    ID                ROLE  STATUS  HEARTBEAT  CPU             MEMORY FREE    DISK FREE  LABELS',
    'edge-1  a7ff6219e79b559e  edge  online  1m ago     16 (load 13.6)  980MiB/2.5GiB  1.2TiB     site=plant-a',
    'edge-2  cc032f2e042e7999  edge  online  59s ago    16 (load 13.6)  980MiB/2.5GiB  1.2TiB     site=plant-b',
    '',
  );

  it('matches the README table against a run on another machine (ids, ages, loads, sizes, widths differ)', () => {
    expect(matchOutput(shownTable, actualTable)).toEqual({ ok: true });
  });

  it('catches a renamed column, and says where', () => {
    const result = matchOutput(shownTable, actualTable.replace('MEMORY FREE', 'MEM FREE   '));
    expect(result).toMatchObject({ ok: false, shownIndex: 0, expectedAt: 0, closest: 0 });
  });

  it('catches a changed word in a message', () => {
    expect(matchOutput('Fogline is up.', 'Fogline is down.').ok).toBe(false);
  });

  it('matches whole lines: an output line with more on it than the shown one does not match', () => {
    expect(matchOutput('edge-1  online', 'edge-1  online  (cordoned)').ok).toBe(false);
    expect(matchOutput('edge-1  online', 'node edge-1  online').ok).toBe(false);
    expect(matchOutput('edge-1  online  …', 'edge-1  online  (cordoned)').ok).toBe(true);
  });

  it('catches a missing line: the output ended where the shown line was expected', () => {
    const actual = actualTable.split('\n').slice(0, 2).join('\n');
    expect(matchOutput(shownTable, actual)).toMatchObject({ ok: false, shownIndex: 2, expectedAt: undefined });
  });

  it('catches extra lines after the last shown line, except for background output', () => {
    const actual = `${actualTable}\nedge-3  0123456789abcdef  edge  online  1s ago  2 (load 1)  1GiB/2GiB  3GiB  site=plant-c`;
    // output line 3 is blank (ignored); 4 is the extra one
    expect(matchOutput(shownTable, actual)).toMatchObject({ ok: false, shownIndex: undefined, expectedAt: 4 });
    expect(matchOutput(shownTable, actual, { anchored: false })).toEqual({ ok: true });
  });

  it('lets … match any text within a line, and a … line any number of lines', () => {
    const shown = md('Starting …', '…', 'Fogline is up.', '  edge-1  …  (site=plant-a)');
    expect(
      matchOutput(shown, md('Starting Fogline in .fogline …', 'Fogline is up.', '  edge-1   http://127.0.0.1:7071   (site=plant-a)')).ok,
    ).toBe(true);
    expect(
      matchOutput(shown, md('Starting Fogline', '[server] listening', '[edge-1] enrolled', 'Fogline is up.', 'edge-1 (site=plant-a)')).ok,
    ).toBe(true);
    expect(matchOutput(shown, md('Starting Fogline', 'Fogline is up.', 'edge-1 (site=plant-b)')).ok).toBe(false);
  });

  it('finds background output anywhere in the stream, not only at its start', () => {
    const stream = md(
      '> fogline@0.1.0 start',
      '[server] listening on 7070',
      'Fogline is up.',
      '  admin token    .fogline/admin.token',
      '[edge-1] heartbeat',
    );
    expect(matchOutput(md('Fogline is up.', '  admin token    .fogline/admin.token'), stream, { anchored: false }).ok).toBe(true);
    expect(matchOutput(md('Fogline is up.', '  admin token    .fogline/admin.token'), stream).ok).toBe(false);
  });

  it('points at the most similar output line when the expected place holds something else', () => {
    const result = matchOutput(md('first', 'deployment energy created'), md('first', 'a', 'b', 'c', 'deployment energy updated', 'd'));
    expect(result).toMatchObject({ ok: false, shownIndex: 1, expectedAt: 1, closest: 4 });
  });

  // Text as a README or a command prints it: printable characters, including regex specials and `…`.
  const char = fc.constantFrom(...'abcXYZ019 .:,-_/%()[]{}#=<>*+?^$|\\…é'.split(''));
  const line = fc.array(char, { maxLength: 30 }).map((chars) => chars.join(''));
  const word = fc.stringMatching(/^[a-z]{1,8}$/);
  const unit = fc.constantFrom('', '', 'ms', 's', 'm', '%', 'MiB', 'GiB', 'B', 'x');
  const number = fc
    .tuple(fc.integer({ min: -9999, max: 9_999_999 }), fc.integer({ min: 0, max: 3 }), unit)
    .map(([value, decimals, suffix]) => `${decimals === 0 ? value : (value / 1000).toFixed(decimals)}${suffix}`);
  // A line template: words and number slots, rendered with any numbers.
  const template = fc.array(fc.oneof(word, fc.constant(null)), { minLength: 1, maxLength: 10 });
  const render = (parts: (string | null)[], numbers: string[]) => parts.map((part, i) => part ?? numbers[i % numbers.length]).join('  ');
  const numbers = fc.array(number, { minLength: 1, maxLength: 10 });

  it('property: any text matches itself', () => {
    fc.assert(fc.property(fc.array(line, { maxLength: 8 }), (lines) => matchOutput(lines.join('\n'), lines.join('\n')).ok));
  });

  it('property: a line still matches with every number changed', () => {
    fc.assert(
      fc.property(template, numbers, numbers, (parts, before, after) => matchOutput(render(parts, before), render(parts, after)).ok),
    );
  });

  it('property: a line no longer matches with one word changed', () => {
    fc.assert(
      fc.property(template, numbers, fc.nat(), word, (parts, values, at, replacement) => {
        const words = parts.flatMap((part, i) => (part === null ? [] : [i]));
        fc.pre(words.length > 0);
        const i = words[at % words.length]!;
        fc.pre(parts[i] !== replacement);
        const changed = parts.map((part, j) => (j === i ? replacement : part));
        return !matchOutput(render(parts, values), render(changed, values)).ok;
      }),
    );
  });

  it('property: a missing line fails, and lines inserted where a … line stands pass', () => {
    const lines = fc.array(
      fc.tuple(template, numbers).map(([parts, values]) => render(parts, values)),
      { minLength: 1, maxLength: 6 },
    );
    fc.assert(
      fc.property(lines, fc.nat(), fc.array(line, { maxLength: 4 }), (shown, at, inserted) => {
        const cut = at % shown.length;
        const missing = shown.filter((_, i) => i !== cut);
        const withGap = [...shown.slice(0, cut), '…', ...shown.slice(cut)];
        const filled = [...shown.slice(0, cut), ...inserted, ...shown.slice(cut)];
        return !matchOutput(shown.join('\n'), missing.join('\n')).ok && matchOutput(withGap.join('\n'), filled.join('\n')).ok;
      }),
    );
  });
});

describe('the command line', () => {
  it('reads every option', () => {
    expect(parseArgs(['--file', 'docs/x.md', '--keep', '--show-output', '--from', '3', '--ports', '7470-7472,9000'])).toEqual({
      file: 'docs/x.md',
      keep: true,
      showOutput: true,
      from: 3,
      only: undefined,
      list: false,
      help: false,
      ports: [7470, 7471, 7472, 9000],
    });
    expect(parseArgs([])).toMatchObject({ file: 'README.md', ports: [7070, 7071, 7072] });
    expect(parsePorts('none')).toEqual([]);
  });

  it.each([
    [['--from'], '--from needs a value'],
    [['--only', 'two'], '--only takes a block number'],
    [['--from', '2', '--only', '3'], 'do not go together'],
    [['--ports', '7072-7070'], '--ports takes ports like'],
    [['--verbose'], 'unknown argument "--verbose"'],
  ])('refuses %j', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(message);
  });

  it('selects from a block on, or one block, keeping the background blocks before it', () => {
    const { blocks } = parseReadme(
      ['<!-- readme-test: run background -->', '<!-- readme-test: run -->', '<!-- readme-test: run -->', '<!-- readme-test: run -->']
        .map((marker, i) => md(marker, `${FENCE}sh`, `echo ${i + 1}`, FENCE))
        .join('\n'),
    );
    expect(selectBlocks(blocks, { from: 3 }).map((block) => block.index)).toEqual([1, 3, 4]);
    expect(selectBlocks(blocks, { only: 2 }).map((block) => block.index)).toEqual([1, 2]);
    expect(selectBlocks(blocks, {}).map((block) => block.index)).toEqual([1, 2, 3, 4]);
    expect(() => selectBlocks(blocks, { only: 5 })).toThrow('there are only 4 runnable blocks');
  });

  it('names a block by its first command', () => {
    expect(firstCommand('# start it\nnpx fogline up \\\n  --port 7300')).toBe('npx fogline up …');
    expect(firstCommand('npx fogline nodes list')).toBe('npx fogline nodes list');
  });
});
