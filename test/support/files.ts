import fs from 'node:fs';
import path from 'node:path';

/** The control plane's content-addressed copy of an artifact, wherever its store keeps it. */
export function findFile(dir: string, name: string): string {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isFile() && entry.name === name) return full;
    if (entry.isDirectory()) {
      try {
        return findFile(full, name);
      } catch {
        // not in this folder
      }
    }
  }
  throw new Error(`no file ${name} under ${dir}`);
}
