import crypto from 'node:crypto';
import fs from 'node:fs';

/**
 * The little of POSIX ustar that a Fogline backup needs: regular files only, written and read
 * with node alone. Reading is strict (header checksums, zero padding, the end-of-archive blocks
 * and nothing after them), so that a truncated or altered archive is refused, not half-read.
 */
const BLOCK = 512;
const CHUNK = 1 << 20;

export class ArchiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArchiveError';
  }
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

/** Splits a path into ustar's prefix (155) and name (100) fields. */
function splitName(name: string): { prefix: string; base: string } {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', base: name };
  for (let cut = name.indexOf('/'); cut !== -1; cut = name.indexOf('/', cut + 1)) {
    const prefix = name.slice(0, cut);
    const base = name.slice(cut + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(base) <= 100) return { prefix, base };
  }
  throw new ArchiveError(`${name}: the path is too long for the archive`);
}

function header(name: string, size: number, mtime: number): Buffer {
  const block = Buffer.alloc(BLOCK);
  const { prefix, base } = splitName(name);
  block.write(base, 0, 100, 'utf8');
  block.write(octal(0o600, 8), 100, 'ascii');
  block.write(octal(0, 8), 108, 'ascii');
  block.write(octal(0, 8), 116, 'ascii');
  block.write(octal(size, 12), 124, 'ascii');
  block.write(octal(Math.floor(mtime / 1000), 12), 136, 'ascii');
  block.write('        ', 148, 'ascii');
  block.write('0', 156, 'ascii');
  block.write('ustar\0', 257, 'ascii');
  block.write('00', 263, 'ascii');
  block.write(prefix, 345, 155, 'utf8');
  block.write(octal(checksum(block), 7), 148, 'ascii');
  return block;
}

function checksum(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : (block[i] as number);
  return sum;
}

/** Writes entries one after the other into `file`; each entry's sha256 is computed as it goes. */
export class TarWriter {
  private readonly fd: number;

  constructor(file: string) {
    this.fd = fs.openSync(file, 'wx', 0o600);
  }

  /** Adds `source` (a file) or `content` under `name`; returns its size and sha256. */
  add(name: string, input: { source: string } | { content: Buffer }): { size: number; sha256: string } {
    const hash = crypto.createHash('sha256');
    if ('content' in input) {
      fs.writeSync(this.fd, header(name, input.content.length, Date.now()));
      fs.writeSync(this.fd, input.content);
      hash.update(input.content);
      this.pad(input.content.length);
      return { size: input.content.length, sha256: hash.digest('hex') };
    }
    const source = fs.openSync(input.source, 'r');
    try {
      const stat = fs.fstatSync(source);
      fs.writeSync(this.fd, header(name, stat.size, stat.mtimeMs));
      const buffer = Buffer.alloc(CHUNK);
      let written = 0;
      while (written < stat.size) {
        const read = fs.readSync(source, buffer, 0, Math.min(CHUNK, stat.size - written), written);
        if (read === 0) throw new ArchiveError(`${input.source} shrank while it was being archived`);
        fs.writeSync(this.fd, buffer, 0, read);
        hash.update(buffer.subarray(0, read));
        written += read;
      }
      this.pad(stat.size);
      return { size: stat.size, sha256: hash.digest('hex') };
    } finally {
      fs.closeSync(source);
    }
  }

  private pad(size: number): void {
    const rest = size % BLOCK;
    if (rest) fs.writeSync(this.fd, Buffer.alloc(BLOCK - rest));
  }

  /** The two zero blocks that end an archive; then the file is flushed to disk. */
  close(): void {
    fs.writeSync(this.fd, Buffer.alloc(2 * BLOCK));
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
  }

  abort(): void {
    fs.closeSync(this.fd);
  }
}

export interface TarEntry {
  name: string;
  size: number;
  sha256: string;
}

function isZero(buffer: Buffer): boolean {
  for (const byte of buffer) if (byte !== 0) return false;
  return true;
}

function parseOctal(field: Buffer, what: string): number {
  const text = field.toString('ascii').replace(/[\0 ]+$/, '');
  if (!/^[0-7]{1,12}$/.test(text)) throw new ArchiveError(`bad ${what} field in a header`);
  return parseInt(text, 8);
}

function cString(field: Buffer): string {
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? field.length : end).toString('utf8');
}

/**
 * Reads every entry of `file`, handing each chunk of its content to `onChunk` (for hashing or
 * writing), and returns the entries with their sha256. Throws ArchiveError on anything else
 * than a well-formed archive of regular files that ends exactly after its two zero blocks.
 */
export function readTar(file: string, onChunk?: (name: string, chunk: Buffer) => void): TarEntry[] {
  const fd = fs.openSync(file, 'r');
  try {
    const total = fs.fstatSync(fd).size;
    const entries: TarEntry[] = [];
    const block = Buffer.alloc(BLOCK);
    const buffer = Buffer.alloc(CHUNK);
    let offset = 0;
    const readExactly = (target: Buffer, length: number) => {
      if (offset + length > total) throw new ArchiveError('the archive is truncated');
      let done = 0;
      while (done < length) {
        const read = fs.readSync(fd, target, done, length - done, offset + done);
        if (read === 0) throw new ArchiveError('the archive is truncated');
        done += read;
      }
      offset += length;
    };
    for (;;) {
      readExactly(block, BLOCK);
      if (isZero(block)) {
        readExactly(block, BLOCK);
        if (!isZero(block)) throw new ArchiveError('a zero block in the middle of the archive');
        if (offset !== total) throw new ArchiveError('data after the end of the archive');
        return entries;
      }
      if (block.toString('ascii', 257, 263) !== 'ustar\0') throw new ArchiveError('not a ustar archive header');
      // Exactly as written (six digits, NUL, space): a flipped terminator is damage too.
      const sum = block.toString('latin1', 148, 156);
      if (!/^[0-7]{6}\0 $/.test(sum) || parseInt(sum.slice(0, 6), 8) !== checksum(block))
        throw new ArchiveError('a header checksum does not match');
      if (block.toString('ascii', 156, 157) !== '0') throw new ArchiveError('an entry that is not a regular file');
      const base = cString(block.subarray(0, 100));
      const prefix = cString(block.subarray(345, 500));
      const name = prefix ? `${prefix}/${base}` : base;
      const size = parseOctal(block.subarray(124, 136), 'size');
      const hash = crypto.createHash('sha256');
      let left = size;
      while (left > 0) {
        const length = Math.min(CHUNK, left);
        readExactly(buffer, length);
        const chunk = buffer.subarray(0, length);
        hash.update(chunk);
        onChunk?.(name, chunk);
        left -= length;
      }
      const rest = size % BLOCK;
      if (rest) {
        const padding = Buffer.alloc(BLOCK - rest);
        readExactly(padding, padding.length);
        if (!isZero(padding)) throw new ArchiveError('non-zero padding after an entry');
      }
      entries.push({ name, size, sha256: hash.digest('hex') });
    }
  } finally {
    fs.closeSync(fd);
  }
}
