// The pure half of the docs test (scripts/readme-test.js): finds the README's runnable shell blocks
// and their shown output, and decides whether a command's real output still matches what the README
// shows. No processes, no files: test/docs/readme-test.test.ts tests all of it.
//
// Marker syntax and matching rule: see the comment at the top of scripts/readme-test.js.

/** The word every marker comment starts with: `<!-- readme-test: run -->`. */
export const MARKER = 'readme-test';
/** Seconds a block may run (a background block: until it is ready) unless its marker says `timeout=`. */
export const DEFAULT_TIMEOUT_S = 60;

const SHELL_LANGUAGES = new Set(['sh', 'bash', 'shell']);
const OUTPUT_LANGUAGE = 'text';
const RUN_OPTIONS = ['timeout', 'background', 'ready', 'expect-fail'];
const ELLIPSIS = '…';

const MARKER_LINE = /^ {0,3}<!--\s*readme-test\b(.*?)-->\s*$/;
const MARKER_LIKE = /^ {0,3}<!--\s*readme-test\b/;
const FENCE_OPEN = /^( {0,3})(`{3,}|~{3,})\s*([^`\s]*)[^`]*$/;
const HEADING = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/;

/**
 * Reads the marker comment's text after `readme-test:`: a directive (`run` or
 * `output-not-checked`) and then words and `key=value` / `key="quoted value"` options.
 * Throws with a message that names the problem.
 */
export function parseMarker(text) {
  const body = text.trim();
  if (!body.startsWith(':')) throw new Error(`write it as <!-- ${MARKER}: run … --> (a colon after "${MARKER}")`);
  const words = [];
  const pattern = /([A-Za-z][\w-]*)(?:=(?:"([^"]*)"|(\S+)))?|(\S+)/g;
  for (const match of body.slice(1).matchAll(pattern)) {
    if (match[4] !== undefined) throw new Error(`cannot read "${match[4]}"`);
    const value = match[2] ?? match[3];
    words.push({ key: match[1], value });
  }
  const [first, ...rest] = words;
  if (!first) throw new Error('the marker is empty: say "run" or "output-not-checked"');
  if (first.key === 'output-not-checked') {
    if (first.value !== undefined || rest.length > 0) throw new Error('"output-not-checked" takes no options');
    return { directive: 'output-not-checked' };
  }
  if (first.key !== 'run' || first.value !== undefined) {
    throw new Error(`unknown directive "${first.key}": the marker says "run …" or "output-not-checked"`);
  }
  const options = { timeoutS: DEFAULT_TIMEOUT_S, background: false, ready: undefined, expectFail: false };
  const seen = new Set();
  for (const { key, value } of rest) {
    if (!RUN_OPTIONS.includes(key)) throw new Error(`unknown option "${key}" (known: ${RUN_OPTIONS.join(', ')})`);
    if (seen.has(key)) throw new Error(`option "${key}" is given twice`);
    seen.add(key);
    if (key === 'timeout') {
      const seconds = Number(value);
      if (value === undefined || !Number.isFinite(seconds) || seconds <= 0) {
        throw new Error(`timeout needs a number of seconds, as in timeout=120`);
      }
      options.timeoutS = seconds;
    } else if (key === 'ready') {
      if (!value) throw new Error('ready needs a value: ready="Fogline is up." or ready=http://127.0.0.1:7070/readyz');
      options.ready = value;
    } else {
      if (value !== undefined) throw new Error(`option "${key}" takes no value`);
      if (key === 'background') options.background = true;
      if (key === 'expect-fail') options.expectFail = true;
    }
  }
  if (options.ready !== undefined && !options.background) throw new Error('ready= only goes with background');
  if (options.expectFail && options.background) throw new Error('expect-fail does not go with background');
  return { directive: 'run', options };
}

/**
 * The runnable blocks of a markdown text, in order, each with its shown output (a ```text block
 * right after it, only blank lines or an output-not-checked marker between).
 *
 * Returns `{ blocks, errors }`; each error is `"<file>:<line>: <problem>"`. Line numbers are
 * 1-based. A block's `line` is its opening fence; `code` is the text between the fences.
 */
export function parseReadme(markdown, file = 'README.md') {
  const lines = markdown.split(/\r?\n/);
  const blocks = [];
  const errors = [];
  const fail = (line, problem) => errors.push(`${file}:${line}: ${problem}`);
  let heading = '';
  let pending; // a marker waiting for its code block: { line, directive, options }
  let lastRunnable; // the runnable block that a following ```text block would belong to
  let i = 0;
  while (i < lines.length) {
    const text = lines[i];
    const lineNo = i + 1;
    const fence = FENCE_OPEN.exec(text);
    if (fence) {
      const closeAt = findFenceClose(lines, i, fence[2]);
      const language = fence[3].toLowerCase();
      const code = lines.slice(i + 1, closeAt).join('\n');
      const fenced = { line: lineNo, language, code, closed: closeAt < lines.length };
      handleFence(fenced);
      i = closeAt + 1;
      continue;
    }
    const marker = MARKER_LINE.exec(text);
    if (marker) {
      if (pending) fail(pending.line, 'this readme-test marker is not followed by a code block');
      try {
        pending = { line: lineNo, ...parseMarker(marker[1]) };
      } catch (error) {
        fail(lineNo, `bad readme-test marker: ${error.message}`);
        pending = undefined;
      }
      if (pending?.directive === 'output-not-checked' && !lastRunnable) {
        fail(lineNo, 'output-not-checked must sit between a runnable block and its ```text output block');
        pending = undefined;
      }
    } else if (MARKER_LIKE.test(text)) {
      fail(lineNo, `a readme-test marker must be alone on its line: <!-- ${MARKER}: run … -->`);
    } else if (text.trim() !== '') {
      if (pending) fail(pending.line, 'this readme-test marker is not followed by a code block');
      pending = undefined;
      lastRunnable = undefined;
      const title = HEADING.exec(text);
      if (title) heading = title[1];
    }
    i += 1;
  }
  if (pending) fail(pending.line, 'this readme-test marker is not followed by a code block');
  blocks.forEach((block, index) => (block.index = index + 1));
  return { blocks, errors };

  function handleFence(fenced) {
    const marker = pending;
    pending = undefined;
    const previous = lastRunnable;
    lastRunnable = undefined;
    if (marker?.directive === 'run') {
      if (!SHELL_LANGUAGES.has(fenced.language)) {
        fail(marker.line, `"run" marks a \`\`\`${fenced.language || '(no language)'} block; only \`\`\`sh blocks run`);
        return;
      }
      if (!fenced.closed) fail(fenced.line, 'this code block has no closing fence');
      const block = { index: 0, line: fenced.line, heading, code: fenced.code, options: marker.options, output: undefined };
      blocks.push(block);
      lastRunnable = block;
      return;
    }
    if (previous && fenced.language === OUTPUT_LANGUAGE) {
      previous.output = { line: fenced.line, text: fenced.code, checked: marker?.directive !== 'output-not-checked' };
      return;
    }
    if (marker?.directive === 'output-not-checked') {
      fail(marker.line, 'output-not-checked must be followed by the ```text block that shows the output');
    }
  }
}

/** Index of the fence that closes the one opened at `open` (lines.length when it is never closed). */
function findFenceClose(lines, open, opener) {
  for (let j = open + 1; j < lines.length; j += 1) {
    const close = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(lines[j]);
    if (close && close[1][0] === opener[0] && close[1].length >= opener.length) return j;
  }
  return lines.length;
}

/**
 * What a terminal would show of raw output: ANSI escapes removed, a line rewritten with `\r` shows
 * its last version, and no trailing empty line.
 */
export function terminalLines(raw) {
  /* eslint-disable no-control-regex -- terminal escapes are made of control characters */
  const text = raw
    .replace(/\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g, '') // OSC (titles, links)
    .replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, '') // CSI (colours, cursor)
    .replace(/\r\n/g, '\n');
  /* eslint-enable no-control-regex */
  const lines = text.split('\n').map((line) => {
    const parts = line.split('\r').filter((part) => part !== '');
    return parts.length > 0 ? parts[parts.length - 1] : '';
  });
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Units that a number may carry and still count as "a number": 12s, 1.5GiB, 4.77%, 2x. */
const UNITS = '%|ms|µs|us|ns|s|m|h|d|w|B|KiB|MiB|GiB|TiB|kB|KB|MB|GB|TB|x';

/** What varies from run to run, in the order it is replaced: the first match wins. */
const VARYING = [
  // tokens: fgl.<id>.<secret>, and the README's own "fgl.…"
  [/\bfgl\.(?:…|[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)/g, '<token>'],
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<id>'],
  [/\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?(?![\w:])/g, '<time>'],
  // ids: 8 or more lowercase hex characters with at least one digit (node ids, sha256, short hashes)
  [/\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b/g, '<id>'],
  // progress bars: [#######.......]
  [/\[[#.=>-]{3,}\]/g, '<bar>'],
  // numbers: 7, -3, 4.77, 47,154, 0.1.0, 14:00, 1:05, 127.0.0.1:7070, 1e-3, v2, with a unit
  [new RegExp(`(?<![A-Za-z0-9_.])(?:(?<!\\/)v(?=\\d))?[-+]?\\d+(?:[.,:]\\d+)*(?:e[-+]?\\d+)?(?:${UNITS})?(?![A-Za-z0-9_])`, 'g'), '<n>'],
];

/**
 * One output line with what legitimately varies replaced by placeholders (`<n>`, `<id>`,
 * `<time>`, `<token>`, `<bar>`) and every whitespace run collapsed to one space, trimmed.
 *
 *   normaliseLine('edge-1  389b0d799ee11fba  online  8s ago') === 'edge-<n> <id> online <n> ago'
 */
export function normaliseLine(line) {
  let text = line;
  for (const [pattern, placeholder] of VARYING) text = text.replace(pattern, placeholder);
  return text.replace(/\s+/g, ' ').trim();
}

/** True for a shown line that stands for any number of output lines (a `…` alone). */
function isGap(normalised) {
  return normalised === ELLIPSIS;
}

/** A regular expression for one shown line: `…` matches any text within the line. */
function linePattern(normalised) {
  const parts = normalised.split(/\s*…\s*/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('.*')}$`);
}

/**
 * Whether `actualText` (a command's output) matches `shownText` (the README's ```text block).
 *
 * Both sides go through normaliseLine() and lose their blank lines. Each shown line must then
 * match one output line, in order, where `…` in a shown line matches any text within that line
 * and a shown line that is `…` alone matches any number of output lines (none included).
 * `anchored` (the default) means the first and last shown lines match the first and last output
 * lines; unanchored (background blocks, whose output keeps growing) the shown lines may sit
 * anywhere in the output.
 *
 * Returns `{ ok: true }` or `{ ok: false, problem, shownIndex, shownLine, expectedAt, closest }`
 * where `shownIndex` is the 0-based index of the first shown line (of the raw shown text's lines)
 * that could not be matched (undefined when the output has extra lines at the end),
 * `expectedAt` the 0-based index (in terminalLines(actualText)) of the output line where it was
 * looked for, and `closest` that of the output line most like it.
 */
export function matchOutput(shownText, actualText, { anchored = true } = {}) {
  const shown = shownText
    .split(/\r?\n/)
    .map((raw, index) => ({ raw, index, text: normaliseLine(raw) }))
    .filter((line) => line.text !== '');
  const actual = terminalLines(actualText)
    .map((raw, index) => ({ raw, index, text: normaliseLine(raw) }))
    .filter((line) => line.text !== '');
  const n = actual.length;
  // reach[p]: the shown lines so far can match actual[0..p) exactly.
  let reach = new Array(n + 1).fill(!anchored);
  reach[0] = true;
  for (const line of shown) {
    const next = new Array(n + 1).fill(false);
    if (isGap(line.text)) {
      const first = reach.indexOf(true);
      for (let p = first; p <= n; p += 1) next[p] = true;
    } else {
      const pattern = linePattern(line.text);
      for (let p = 0; p < n; p += 1) if (reach[p] && pattern.test(actual[p].text)) next[p + 1] = true;
    }
    if (!next.includes(true)) {
      const from = reach.indexOf(true);
      return {
        ok: false,
        problem: 'a shown line has no matching output line',
        shownIndex: line.index,
        shownLine: line.raw,
        expectedAt: from < n ? actual[from].index : undefined,
        closest: closestLine(line.text, actual),
      };
    }
    reach = next;
  }
  if (!anchored || reach[n]) return { ok: true };
  const last = reach.lastIndexOf(true);
  return {
    ok: false,
    problem: 'the output has lines after the last shown line',
    shownIndex: undefined,
    shownLine: undefined,
    expectedAt: actual[last].index,
    closest: undefined,
  };
}

/** Index (in the raw output lines) of the output line sharing the most words with `text`. */
function closestLine(text, actual) {
  const words = new Set(text.split(/[\s…]+/).filter(Boolean));
  let best;
  let bestScore = 0;
  for (const line of actual) {
    const theirs = new Set(line.text.split(' '));
    let common = 0;
    for (const word of words) if (theirs.has(word)) common += 1;
    const score = (2 * common) / (words.size + theirs.size);
    if (score > bestScore) {
      best = line.index;
      bestScore = score;
    }
  }
  return best;
}

/** The block's first command line, for progress lines: "npx fogline nodes list". */
export function firstCommand(code) {
  const lines = code.split('\n').filter((line) => line.trim() !== '' && !line.trim().startsWith('#'));
  const first = (lines[0] ?? '').trim().replace(/\s*\\$/, '');
  const short = first.length > 72 ? `${first.slice(0, 71)}…` : first;
  return lines.length > 1 && short === first ? `${short} …` : short;
}

/**
 * The docs test's command line. Throws on a bad argument.
 * `--from N` / `--only N` take the block numbers the run prints ([N/total]).
 */
export function parseArgs(argv) {
  const options = {
    file: 'README.md',
    keep: false,
    showOutput: false,
    from: undefined,
    only: undefined,
    list: false,
    help: false,
    ports: [7070, 7071, 7072],
  };
  const value = (i, name) => {
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) throw new Error(`${name} needs a value`);
    return next;
  };
  const blockNumber = (text, name) => {
    if (!/^[1-9]\d*$/.test(text)) throw new Error(`${name} takes a block number (1, 2, …), not "${text}"`);
    return Number(text);
  };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') options.help = true;
    else if (arg === '--keep') options.keep = true;
    else if (arg === '--show-output') options.showOutput = true;
    else if (arg === '--list') options.list = true;
    else if (arg === '--file') options.file = value(i++, arg);
    else if (arg === '--from') options.from = blockNumber(value(i++, arg), arg);
    else if (arg === '--only') options.only = blockNumber(value(i++, arg), arg);
    else if (arg === '--ports') options.ports = parsePorts(value(i++, arg));
    else throw new Error(`unknown argument "${arg}" (see --help)`);
  }
  if (options.from !== undefined && options.only !== undefined) throw new Error('--from and --only do not go together');
  return options;
}

/** "7070-7072" or "7070,7075" → [7070, 7071, 7072]; "none" → []. */
export function parsePorts(text) {
  if (text === 'none') return [];
  const ports = [];
  for (const part of text.split(',')) {
    const range = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    const from = Number(range?.[1]);
    const to = Number(range?.[2] ?? range?.[1]);
    if (!range || from < 1 || to > 65535 || to < from)
      throw new Error(`--ports takes ports like 7070-7072 or 7070,7071 or none, not "${text}"`);
    for (let port = from; port <= to; port += 1) ports.push(port);
  }
  return ports;
}

/**
 * The blocks a run executes: all of them, or from block `from` on, or only block `only`. Blocks
 * before the selection that run in the background (the cluster the later ones talk to) still run.
 */
export function selectBlocks(blocks, { from, only }) {
  const start = only ?? from ?? 1;
  const end = only ?? blocks.length;
  if (start > blocks.length) throw new Error(`there are only ${blocks.length} runnable blocks`);
  return blocks.filter((block) => (block.index >= start && block.index <= end) || (block.index < start && block.options.background));
}
