// Types for readme-blocks.js, so that TypeScript tests can import it.

export declare const MARKER: string;
export declare const DEFAULT_TIMEOUT_S: number;

export interface RunOptions {
  timeoutS: number;
  background: boolean;
  /** A text an output line must contain, or an http(s) URL that must answer 2xx. */
  ready: string | undefined;
  expectFail: boolean;
}

export type Marker = { directive: 'run'; options: RunOptions } | { directive: 'output-not-checked' };

export interface RunnableBlock {
  /** 1-based, in file order: the N of `--from N`. */
  index: number;
  /** The line of the opening fence (1-based). */
  line: number;
  /** The nearest heading above the block. */
  heading: string;
  code: string;
  options: RunOptions;
  /** The ```text block right after it; `line` is its opening fence. */
  output: { line: number; text: string; checked: boolean } | undefined;
}

export type MatchResult =
  | { ok: true }
  | {
      ok: false;
      problem: string;
      shownIndex: number | undefined;
      shownLine: string | undefined;
      expectedAt: number | undefined;
      closest: number | undefined;
    };

export interface Args {
  file: string;
  keep: boolean;
  showOutput: boolean;
  from: number | undefined;
  only: number | undefined;
  list: boolean;
  help: boolean;
  ports: number[];
}

export declare function parseMarker(text: string): Marker;
export declare function parseReadme(markdown: string, file?: string): { blocks: RunnableBlock[]; errors: string[] };
export declare function terminalLines(raw: string): string[];
export declare function normaliseLine(line: string): string;
export declare function matchOutput(shownText: string, actualText: string, options?: { anchored?: boolean }): MatchResult;
export declare function firstCommand(code: string): string;
export declare function parseArgs(argv: string[]): Args;
export declare function parsePorts(text: string): number[];
export declare function selectBlocks(blocks: RunnableBlock[], selection: { from?: number; only?: number }): RunnableBlock[];
