import { MlInputError } from '../errors.js';

/** Receives the lines of a text, one at a time, numbered from 1. */
export type LineSink = (line: string, lineNumber: number) => void;

export const DEFAULT_MAX_LINE_LENGTH = 65_536;

function tooLong(lineNumber: number, maxLineLength: number): MlInputError {
  return new MlInputError(
    'line-too-long',
    `Line ${lineNumber} is longer than ${maxLineLength} characters. A time-series CSV has short lines: check that this is the right file ` +
      'and that it uses \\n or \\r\\n line endings (or raise maxLineLength).',
    { line: lineNumber, maxLineLength },
  );
}

/**
 * Splits text arriving in chunks into lines without ever holding more than one chunk plus one
 * line: a single 100 MB line is refused as soon as it passes `maxLineLength`, not after reading it.
 * Returns the number of lines seen.
 */
export class LineSplitter {
  private pending = '';
  private lineNumber = 0;
  private readonly decoder = new TextDecoder('utf-8');

  constructor(
    private readonly sink: LineSink,
    private readonly maxLineLength = DEFAULT_MAX_LINE_LENGTH,
  ) {}

  push(chunk: string | Uint8Array): void {
    const text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    let from = 0;
    for (let nl = text.indexOf('\n', from); nl !== -1; nl = text.indexOf('\n', from)) {
      const piece = text.slice(from, nl);
      if (this.pending.length + piece.length > this.maxLineLength + 1) throw tooLong(this.lineNumber + 1, this.maxLineLength);
      this.emit(this.pending + piece);
      this.pending = '';
      from = nl + 1;
    }
    const rest = text.slice(from);
    if (this.pending.length + rest.length > this.maxLineLength + 1) throw tooLong(this.lineNumber + 1, this.maxLineLength);
    this.pending += rest;
  }

  /** Flushes the last line (a file need not end with a newline). */
  end(): number {
    this.pending += this.decoder.decode();
    if (this.pending.length > 0) this.emit(this.pending);
    this.pending = '';
    return this.lineNumber;
  }

  private emit(raw: string): void {
    this.lineNumber += 1;
    let line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (this.lineNumber === 1 && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    if (line.length > this.maxLineLength) throw tooLong(this.lineNumber, this.maxLineLength);
    this.sink(line, this.lineNumber);
  }
}
