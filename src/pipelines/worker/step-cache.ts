import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Step outputs kept by a content hash of everything that went into them (data digest, parameters,
 * code version), so that a re-run with only a training parameter changed skips preparation.
 * Entries are written to a temporary name and renamed: a killed run never leaves half an entry.
 */
export class StepCache {
  constructor(private readonly dir: string) {}

  static key(parts: unknown): string {
    return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
  }

  file(key: string, name: string): string {
    return path.join(this.dir, key, name);
  }

  has(key: string, names: string[]): boolean {
    return names.every((name) => fs.existsSync(this.file(key, name)));
  }

  write(key: string, files: Record<string, Uint8Array | string>): void {
    const target = path.join(this.dir, key);
    const temporary = `${target}.${process.pid}.${Date.now()}.tmp`;
    // Private like the rest of the data dir: prepared training data is the dataset's.
    fs.mkdirSync(temporary, { recursive: true, mode: 0o700 });
    for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(temporary, name), content, { mode: 0o600 });
    fs.rmSync(target, { recursive: true, force: true });
    fs.renameSync(temporary, target);
  }

  read(key: string, name: string): Buffer {
    return fs.readFileSync(this.file(key, name));
  }
}
