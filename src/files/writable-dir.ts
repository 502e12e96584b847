import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors/config-error.js';

/**
 * Makes `dir` (and its parents) and proves it can be written, so that a read-only, full or
 * misnamed data folder stops the process at start with a message that says what to change,
 * instead of failing on the first write later.
 */
export function ensureWritableDir(dir: string, setting: string): void {
  const probe = path.join(dir, `.write-check-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(probe, 'ok');
    fs.rmSync(probe);
  } catch (error) {
    const { code, message } = realCause(dir, error as NodeJS.ErrnoException);
    const why =
      code === 'EROFS'
        ? 'the file system is read-only'
        : code === 'ENOSPC'
          ? 'the disk is full'
          : code === 'EACCES' || code === 'EPERM'
            ? 'permission denied'
            : code === 'ENOTDIR'
              ? 'a part of the path is a file'
              : message;
    throw new ConfigError(`The data folder ${path.resolve(dir)} cannot be written (${why}): choose a writable ${setting}`);
  }
}

/** A recursive mkdir on a read-only file system says ENOENT; the first missing folder says why. */
function realCause(dir: string, error: NodeJS.ErrnoException): NodeJS.ErrnoException {
  if (error.code !== 'ENOENT') return error;
  let missing = path.resolve(dir);
  while (!fs.existsSync(path.dirname(missing)) && path.dirname(missing) !== missing) missing = path.dirname(missing);
  try {
    fs.mkdirSync(missing);
    fs.rmdirSync(missing);
  } catch (cause) {
    return cause as NodeJS.ErrnoException;
  }
  return error;
}
