import fs from 'node:fs';
import path from 'node:path';

/** Older than this, a temporary file is stale whoever wrote it (a live writer touches it as it writes). */
const STALE_AFTER_MS = 24 * 3600_000;

/**
 * Removes the temporary files that processes killed mid-write left in a data folder, at start-up:
 * - `<data dir>/<store>/tmp/<pid>-<random>`: uploads to the artifact store, datasets and registry
 *   (src/registry/artifact-store.ts);
 * - `<name>.<pid>.tmp` and `<name>.<pid>.<ms>.tmp`, files and folders, in the data dir and one level
 *   down: private files written by rename (src/files/private-file.ts) and step-cache entries
 *   (src/pipelines/worker/step-cache.ts).
 * An entry is removed when the process that wrote it is gone (or is this one: nothing of ours is in
 * flight yet), or when it has not changed for a day; another process writing to the same folder
 * keeps its files. Resumable downloads (`.partial`) are not temporary and stay. Returns what it removed.
 */
export function sweepTemporaryFiles(dataDir: string, now: number = Date.now()): string[] {
  const removed: string[] = [];
  const sweep = (entry: string, pid: number | undefined) => {
    if (pid !== undefined && pid !== process.pid && running(pid) && !stale(entry, now)) return;
    try {
      fs.rmSync(entry, { recursive: true, force: true });
      removed.push(entry);
    } catch {
      // Best effort: a file we cannot remove is no reason not to start.
    }
  };
  for (const name of list(dataDir)) {
    const entry = path.join(dataDir, name);
    const renamed = RENAMED_TEMPORARY.exec(name);
    if (renamed) {
      sweep(entry, Number(renamed[1]));
      continue;
    }
    if (!isDirectory(entry)) continue;
    for (const inner of list(entry)) {
      const innerEntry = path.join(entry, inner);
      const innerRenamed = RENAMED_TEMPORARY.exec(inner);
      if (innerRenamed) sweep(innerEntry, Number(innerRenamed[1]));
      else if (inner === 'tmp' && isDirectory(innerEntry)) {
        for (const upload of list(innerEntry)) sweep(path.join(innerEntry, upload), pidPrefix(upload));
      }
    }
  }
  return removed;
}

/** `<name>.<pid>.tmp` or `<name>.<pid>.<ms>.tmp`. */
const RENAMED_TEMPORARY = /\.(\d+)(?:\.\d+)?\.tmp$/;

function pidPrefix(name: string): number | undefined {
  const match = /^(\d+)-/.exec(name);
  return match ? Number(match[1]) : undefined;
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function stale(entry: string, now: number): boolean {
  try {
    return now - fs.statSync(entry).mtimeMs > STALE_AFTER_MS;
  } catch {
    return false;
  }
}

function list(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function isDirectory(entry: string): boolean {
  try {
    return fs.statSync(entry).isDirectory();
  } catch {
    return false;
  }
}
