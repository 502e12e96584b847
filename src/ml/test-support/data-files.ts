import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's vendored data folder (tests never depend on ../shared). */
export const DATA_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../data');

export function readDataFile(relative: string): string {
  return fs.readFileSync(path.join(DATA_DIR, relative), 'utf8');
}
