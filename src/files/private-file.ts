import fs from 'node:fs';
import path from 'node:path';

/**
 * Writes a file only its owner can read (mode 0600), through a temporary name and a rename, so
 * that a crash never leaves a half-written secret behind.
 */
export function writePrivateFile(file: string, content: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, content, { mode: 0o600 });
  fs.renameSync(temporary, file);
}

/** The file's content without surrounding whitespace; undefined when it is missing or empty. */
export function readTrimmed(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
