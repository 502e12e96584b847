import { readFileSync } from 'node:fs';

/** Fogline's version, read from package.json so that there is one place to bump it. */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string })
  .version;
