#!/usr/bin/env node
// The docs test: runs the README's runnable shell blocks in order, as a newcomer who pastes them
// into one terminal would, in a fresh copy of this repository, and fails when a block exits
// non-zero or no longer prints what the README shows. Build first (`npm run build`).
//
//   npm run test:readme                        README.md (needs ports 7070-7072 free)
//   npm run test:readme -- --list              the runnable blocks, numbered
//   npm run test:readme -- --from 5 --keep     a quick loop while editing (see --help)
//
// MARKING A BLOCK: an HTML comment (invisible on GitHub) right above a ```sh fence; blank lines
// may sit between them. Unmarked blocks never run.
//
//   <!-- readme-test: run -->                        run it; it must exit 0 within 60 s
//   <!-- readme-test: run timeout=300 -->            ... within 300 s
//   <!-- readme-test: run expect-fail -->            ... it must exit non-zero (an error the README shows)
//   <!-- readme-test: run background ready="Fogline is up." -->
//        for a command that keeps running (npm start, fogline up, fogline agent): start it, go on
//        once an output line contains the text (ready=http://… : once that URL answers 2xx; with a
//        shown output: once that output is there too; `timeout=` bounds the wait), keep it running
//        for the later blocks (it must not stop before the end) and stop its whole process group
//        at the end, as Ctrl-C would.
//
// SHOWN OUTPUT: a ```text block right after a runnable block (blank lines only between) is what it
// prints, stdout and stderr together, and is checked. To show output without checking it, put
// <!-- readme-test: output-not-checked --> between the two blocks.
//
// MATCHING (scripts/readme-blocks.js, matchOutput): on both sides, what varies between runs is
// replaced by a placeholder: numbers with their units (7, 4.77%, 8s, 23GiB, 14:00, 0.1.0, v2),
// ISO timestamps, ids (8+ lowercase hex characters, UUIDs), tokens (fgl.…) and progress bars;
// whitespace runs count as one space and blank lines are ignored. Then each shown line must match
// one output line, in order: `…` in a shown line matches any text within the line, and a shown
// line that is `…` alone matches any number of output lines. The first shown line must match the
// first output line and the last the last, except for a background block, whose shown lines may
// sit anywhere in its (still growing) output. Words are compared as they are: a renamed column,
// a changed message or a missing line fail; numbers never are (an HTTP status neither).
//
// RUNNING (scripts/readme-sandbox.js): every block runs in `bash` with `set -eo pipefail`, in the
// variables, functions and folder that the blocks before it left, as in one terminal (a background
// block's own changes stay its own: it never finishes). Output goes to a pipe, not a terminal:
// progress bars print a line every few seconds instead of redrawing one. The folder is a temporary
// copy of the repository's files (git's tracked and untracked-but-not-ignored ones) with
// node_modules/ and dist/ linked, so `npx fogline`, `npm start`, `data/…` and `examples/…` work as
// in a fresh clone after `npm ci`; `npm ci` / `npm install` there are no-ops, FOGLINE_* and npm_*
// variables are unset, and npm gets a private cache. A block that fails (exit code, timeout) stops
// the run: the next ones depend on it. A mismatched output is reported and the run goes on.
// Everything started is stopped and the temporary folder removed at the end, on failure and on
// Ctrl-C too.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { firstCommand, matchOutput, parseArgs, parseReadme, selectBlocks, terminalLines } from './readme-blocks.js';
import { Sandbox, takenPorts } from './readme-sandbox.js';

const TAIL_LINES = 40;

const USAGE = `Usage: node scripts/readme-test.js [options]     (npm run test:readme -- [options])

Runs the README's runnable shell blocks in order in a fresh temporary copy of this repository and
fails when one exits non-zero or its output no longer matches the README's shown output.
Build first: npm run build.

Options:
  --file FILE     the markdown file (default README.md)
  --list          list the runnable blocks with their numbers, run nothing
  --from N        start at block N (earlier background blocks, such as the cluster, still run)
  --only N        run block N alone (with the earlier background blocks)
  --ports LIST    ports that must be free before the run (default 7070-7072; "none" skips the check)
  --keep          keep the temporary folder (its path is printed)
  --show-output   print each block's output as it ran (to see what a passing block printed)
  --help          this text

Marking blocks (an HTML comment right above a \`\`\`sh fence):
  <!-- readme-test: run -->                               run it, must exit 0 (within 60 s)
  <!-- readme-test: run timeout=300 expect-fail -->       a time limit; must exit non-zero
  <!-- readme-test: run background ready="Fogline is up." -->
                                                          keeps running; go on once the text is printed
                                                          (or ready=http://… answers 2xx)
A \`\`\`text block right after a runnable block is its shown output, and is checked, unless
<!-- readme-test: output-not-checked --> sits between them. In a shown output, numbers, ids,
times and tokens may differ; "…" matches any text in a line, and a "…" line any number of lines.
The rules in full are at the top of scripts/readme-test.js.

The last line printed is "N passed, N failed". Exit code: 0 all passed, 1 a block failed,
2 bad arguments, a bad marker or a port in use, 130 interrupted.`;

const say = (line = '') => process.stdout.write(`${line}\n`);
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
const quoted = (lines, prefix = '        | ') => lines.map((line) => `${prefix}${line}`).join('\n');

/** A run of the docs test: the temporary folder, what it started, the counts. */
class Run {
  constructor(file, blocks, total, keep) {
    this.file = file;
    this.blocks = blocks;
    this.total = total;
    this.keep = keep;
    this.showOutput = false;
    this.sandbox = undefined;
    this.background = []; // { block, group }
    this.passed = 0;
    this.failed = 0;
    this.notRun = 0;
    this.interrupted = undefined;
    this.current = undefined;
  }

  /** The temporary folder, and the bash of each block in it. */
  setUp() {
    this.sandbox = new Sandbox(this.file);
    this.sandbox.prepare();
  }

  async runAll() {
    for (const [position, block] of this.blocks.entries()) {
      if (this.interrupted) {
        this.notRun = this.blocks.length - position;
        break;
      }
      say(
        `[${block.index}/${this.total}] ${this.file}:${block.line}  ${block.heading ? `${block.heading}: ` : ''}${firstCommand(block.code)}${block.options.background ? '  (background)' : ''}`,
      );
      const started = Date.now();
      const result = block.options.background ? await this.runBackground(block) : await this.runForeground(block);
      if (this.interrupted) {
        say('      interrupted');
        this.notRun = this.blocks.length - position;
        break;
      }
      if (result.ok) {
        this.passed += 1;
        say(`      ok${result.note ? `, ${result.note}` : ''} (${seconds(Date.now() - started)})`);
      } else {
        this.failed += 1;
        say(`      FAILED: ${result.problem} (${seconds(Date.now() - started)})`);
        for (const line of result.details) say(line);
      }
      const died = this.diedInBackground();
      if (died || result.stop) {
        this.notRun = this.blocks.length - position - 1;
        if (this.notRun > 0) {
          const next = this.blocks[position + 1];
          say(
            `readme-test: ${this.notRun} block(s) not run after this failure (they depend on it); once fixed, --from ${next.index} starts there`,
          );
        }
        break;
      }
    }
  }

  async runForeground(block) {
    const group = this.sandbox.start(block, true);
    this.current = group;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      void group.stop('SIGTERM');
    }, block.options.timeoutS * 1000);
    const exit = await group.exited;
    clearTimeout(timer);
    // Output may still be in the pipe after bash exits; a process left running (`cmd &`) keeps the
    // pipe open, so wait for it only briefly.
    await Promise.race([group.closed, new Promise((resolve) => setTimeout(resolve, 500))]);
    this.current = undefined;
    const output = group.output;
    if (this.showOutput) for (const line of terminalLines(output)) say(`      | ${line}`);
    const fail = (problem, extra = []) => ({ ok: false, stop: true, problem, details: [...extra, ...this.describe(block, output)] });
    if (this.interrupted) return { ok: false, problem: 'interrupted', details: [] };
    if (timedOut) return fail(`still running after its timeout of ${block.options.timeoutS} s (raise it with timeout=N in its marker)`);
    if (exit.code === null) return fail(`killed by ${exit.signal}`);
    if (block.options.expectFail && exit.code === 0) return fail('exit code 0, but its marker says expect-fail');
    if (!block.options.expectFail && exit.code !== 0) return fail(`exit code ${exit.code}`);
    if (block.output?.checked) {
      const match = matchOutput(block.output.text, output, { anchored: true });
      if (!match.ok)
        return {
          ok: false,
          stop: false,
          problem: `its output no longer matches the README's (${this.file}:${block.output.line})`,
          details: this.mismatch(block, output, match),
        };
    }
    return { ok: true, note: block.options.expectFail ? `exit code ${exit.code} as expected` : undefined };
  }

  async runBackground(block) {
    const group = this.sandbox.start(block, false);
    this.current = group;
    const { ready } = block.options;
    const readyUrl = ready && /^https?:\/\//.test(ready) ? ready : undefined;
    const readyText = ready && !readyUrl ? ready : undefined;
    const shown = block.output?.checked ? block.output.text : undefined;
    let urlAnswered = false;
    const isReady = () =>
      (!readyText || terminalLines(group.output).some((line) => line.includes(readyText))) &&
      (!readyUrl || urlAnswered) &&
      (!shown || matchOutput(shown, group.output, { anchored: false }).ok);
    const deadline = Date.now() + block.options.timeoutS * 1000;
    let ok = isReady();
    while (!ok && !this.interrupted && group.exit === undefined && Date.now() < deadline) {
      if (readyUrl && !urlAnswered) urlAnswered = await answers(readyUrl);
      await new Promise((resolve) => setTimeout(resolve, 250));
      ok = isReady();
    }
    this.current = undefined;
    if (this.interrupted) return { ok: false, problem: 'interrupted', details: [] };
    if (ok) {
      this.background.push({ block, group });
      return { ok: true, note: ready || shown ? 'ready' : 'started' };
    }
    const details = [];
    if (readyText && !terminalLines(group.output).some((line) => line.includes(readyText)))
      details.push(`      no output line contains ready="${readyText}"`);
    if (readyUrl && !urlAnswered) details.push(`      ${readyUrl} did not answer 2xx`);
    if (shown) {
      const match = matchOutput(shown, group.output, { anchored: false });
      if (!match.ok) details.push(...this.mismatch(block, group.output, match, false));
    }
    const why = group.exit
      ? `it stopped (${describeExit(group.exit)}) before it was ready`
      : `not ready within its timeout of ${block.options.timeoutS} s`;
    await group.stop();
    return { ok: false, stop: true, problem: why, details: [...details, ...this.describe(block, group.output)] };
  }

  /** A background block that stopped by itself while later blocks ran: reported as its failure. */
  diedInBackground() {
    const dead = this.background.filter(({ group }) => group.exit !== undefined && !group.stopping);
    for (const entry of dead) {
      entry.group.stopping = true; // reported once
      this.passed -= 1;
      this.failed += 1;
      say(
        `      FAILED: block ${entry.block.index} (${this.file}:${entry.block.line}, background) stopped (${describeExit(entry.group.exit)}); it must keep running until the end`,
      );
      for (const line of this.describe(entry.block, entry.group.output)) say(line);
    }
    return dead.length > 0;
  }

  describe(block, output) {
    const lines = terminalLines(output);
    const tail = lines.slice(-TAIL_LINES);
    return [
      `      the block (${this.file}:${block.line}):`,
      block.code
        .split('\n')
        .map((line, i) => `      ${String(block.line + 1 + i).padStart(5)} | ${line}`)
        .join('\n'),
      lines.length === 0
        ? '      it printed nothing'
        : `      its output${lines.length > TAIL_LINES ? `, last ${TAIL_LINES} of ${lines.length} lines` : ''}:\n${quoted(tail)}`,
    ];
  }

  mismatch(block, output, match, withOutput = true) {
    const actual = terminalLines(output);
    const details = [];
    if (match.shownIndex === undefined) {
      details.push(`      the output goes on after the README's last shown line, from output line ${match.expectedAt + 1}:`);
      details.push(quoted(actual.slice(match.expectedAt, match.expectedAt + 3)));
    } else {
      details.push(`      first shown line without a match (${this.file}:${block.output.line + 1 + match.shownIndex}):`);
      details.push(quoted([match.shownLine]));
      if (match.expectedAt === undefined) {
        details.push('      where it was expected, the output had ended');
      } else {
        const from = Math.max(0, match.expectedAt - 1);
        details.push(`      where it was expected (output line ${match.expectedAt + 1}, marked >):`);
        details.push(
          actual
            .slice(from, match.expectedAt + 3)
            .map((line, i) => `      ${from + i === match.expectedAt ? '>' : ' '} | ${line}`)
            .join('\n'),
        );
      }
      if (match.closest !== undefined && (match.expectedAt === undefined || Math.abs(match.closest - match.expectedAt) > 2)) {
        details.push(`      the most similar output line (${match.closest + 1}):`);
        details.push(quoted([actual[match.closest]]));
      }
    }
    if (withOutput) {
      const tail = actual.slice(-TAIL_LINES);
      details.push(`      its output${actual.length > TAIL_LINES ? `, last ${TAIL_LINES} of ${actual.length} lines` : ''}:`, quoted(tail));
    }
    return details;
  }

  /** Stops everything the run started, then removes the folder unless --keep. */
  async tearDown() {
    await this.current?.stop('SIGTERM');
    await this.sandbox?.stopAll();
    if (this.keep && this.sandbox) say(`readme-test: kept ${this.sandbox.clone}`);
    else this.sandbox?.remove();
  }

  /** Ctrl-C: the block running now is stopped, the run ends, everything is cleaned up. */
  interrupt(signal) {
    this.interrupted = signal;
    void this.current?.stop('SIGTERM');
  }
}

async function answers(url) {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return response.ok;
  } catch {
    return false;
  }
}

function describeExit(exit) {
  return exit.code === null ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
}

async function main(argv) {
  let options;
  try {
    options = parseArgs(argv);
  } catch (error) {
    console.error(`readme-test: ${error.message}`);
    return 2;
  }
  if (options.help) {
    say(USAGE);
    return 0;
  }
  const filePath = path.resolve(options.file);
  const relative = path.relative(process.cwd(), filePath);
  const file = relative && !relative.startsWith('..') ? relative : filePath;
  let markdown;
  try {
    markdown = fs.readFileSync(filePath, 'utf8');
  } catch (error) {
    console.error(`readme-test: cannot read ${file}: ${error.message}`);
    return 2;
  }
  const { blocks, errors } = parseReadme(markdown, file);
  if (errors.length > 0) {
    console.error(`readme-test: ${file} has bad readme-test markers:`);
    for (const error of errors) console.error(`  ${error}`);
    return 2;
  }
  if (options.list) {
    for (const block of blocks) {
      say(
        `[${block.index}/${blocks.length}] ${file}:${block.line}  ${block.heading ? `${block.heading}: ` : ''}${firstCommand(block.code)}${block.options.background ? '  (background)' : ''}`,
      );
    }
    return 0;
  }
  if (blocks.length === 0) {
    console.error(`readme-test: ${file} has no runnable blocks; mark one with <!-- readme-test: run --> above its \`\`\`sh fence`);
    say('0 passed, 0 failed');
    return 1;
  }
  let selected;
  try {
    selected = selectBlocks(blocks, options);
  } catch (error) {
    console.error(`readme-test: ${error.message}`);
    return 2;
  }
  const taken = await takenPorts(options.ports);
  if (taken.length > 0) {
    console.error(
      `readme-test: port ${taken.join(', ')} ${taken.length > 1 ? 'are' : 'is'} in use, and the blocks need ${options.ports.length > 1 ? `${options.ports[0]}-${options.ports.at(-1)}` : options.ports[0]} free.\n` +
        'Stop what listens there (an `npm start` or `fogline up` still running?), or pass --ports for a file that uses other ports.',
    );
    return 2;
  }

  const run = new Run(file, selected, blocks.length, options.keep);
  run.showOutput = options.showOutput;
  let interrupts = 0;
  const onSignal = (signal) => {
    interrupts += 1;
    if (interrupts === 1) {
      say(`\nreadme-test: ${signal}: stopping what the run started …`);
      run.interrupt(signal);
      return;
    }
    process.exit(130); // a second Ctrl-C: no more waiting (the exit handler kills and removes)
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A last resort should the runner itself crash: nothing it started outlives it.
  process.on('exit', () => {
    run.sandbox?.killAll();
    if (!run.keep) run.sandbox?.remove();
  });
  try {
    run.setUp();
    const skipped = blocks.length - selected.length;
    say(
      `readme-test: ${file}, ${selected.length} of ${blocks.length} runnable blocks${skipped > 0 ? ` (--${options.only ? 'only' : 'from'})` : ''}, in ${run.sandbox.clone}`,
    );
    await run.runAll();
  } catch (error) {
    run.failed += 1;
    say(`readme-test: ${error instanceof Error ? error.message : error}`);
  } finally {
    await run.tearDown();
  }
  if (run.interrupted) {
    say(`readme-test: interrupted; ${run.notRun} block(s) not run`);
  }
  say(`${run.passed} passed, ${run.failed} failed`);
  if (run.interrupted) return 130;
  return run.failed > 0 ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
