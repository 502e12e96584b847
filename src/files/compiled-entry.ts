import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The compiled JavaScript file of a worker thread's entry, given relative to the calling module
 * (`compiledEntry(import.meta.url, 'predictor-worker.js')`). Worker threads need compiled files:
 * when the caller runs from its TypeScript source (tests), the same path under dist/ is used.
 */
export function compiledEntry(callerUrl: string, relativeFile: string): string {
  const here = fileURLToPath(callerUrl);
  let dir = path.dirname(here);
  if (here.endsWith('.ts')) {
    const src = `${path.sep}src${path.sep}`;
    const at = `${dir}${path.sep}`.lastIndexOf(src);
    if (at < 0) throw new Error(`${here} is not under a src/ folder, so its compiled file cannot be found`);
    dir = path.join(dir.slice(0, at), 'dist', dir.slice(at + src.length));
  }
  const compiled = path.join(dir, relativeFile);
  if (!fs.existsSync(compiled)) throw new Error(`${compiled} is missing: run npm run build`);
  return compiled;
}
