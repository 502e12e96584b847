import path from 'node:path';
import { recreateDatabaseCommand, shellWord } from '../store/database-hints.js';
import { parseDatabaseUrl } from '../store/database-url.js';

/**
 * `npx fogline <args>` as a user pastes it into another terminal in the folder `fogline up` was
 * started from. The CLI reads `./.fogline` by default, so with any other data folder the command
 * carries `--data-dir` (relative when the folder is below this one): without it, it would show
 * another cluster, or none.
 */
export function cliCommand(args: string, dataDir: string, cwd = process.cwd()): string {
  if (path.resolve(cwd, '.fogline') === path.resolve(dataDir)) return `npx fogline ${args}`;
  const relative = path.relative(cwd, dataDir);
  const shown = relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : path.resolve(dataDir);
  return `npx fogline ${args} --data-dir ${shellWord(shown)}`;
}

/** Deletes the data folder, and empties the database when it lives elsewhere (FOGLINE_DB). */
export function fromScratchCommand(config: { dataDir: string; db: string }): string {
  const database = parseDatabaseUrl(config.db);
  const removeFolder = `rm -r ${shellWord(config.dataDir)}`;
  const inFolder = database.dialect === 'sqlite' && !path.relative(config.dataDir, path.resolve(database.target)).startsWith('..');
  return inFolder ? removeFolder : `${removeFolder} && ${recreateDatabaseCommand(database)}`;
}
