import { readFileSync } from 'node:fs';

/** Fogline's version, read from package.json so that there is one place to bump it. */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string })
  .version;

export interface BuildInfo {
  /** The commit's short sha the build was made from (`-dirty` with uncommitted changes), or 'unknown'. */
  build: string;
  /** When it was built (ISO 8601), or 'unknown'. */
  date: string;
}

/**
 * The build, from dist/build-info.json that scripts/write-build-info.js writes at build time
 * (next to this file once compiled): a running install needs no git. Run from the sources
 * (tests), there is none: 'unknown'.
 */
export const BUILD: BuildInfo = readBuildInfo();

function readBuildInfo(): BuildInfo {
  try {
    const info = JSON.parse(readFileSync(new URL('./build-info.json', import.meta.url), 'utf8')) as Partial<BuildInfo>;
    return { build: typeof info.build === 'string' ? info.build : 'unknown', date: typeof info.date === 'string' ? info.date : 'unknown' };
  } catch {
    return { build: 'unknown', date: 'unknown' };
  }
}

/** What `fogline --version` prints, e.g. `0.1.0 (build 3ad333c, 2026-12-07T04:40:00.000Z)`. */
export function versionText(): string {
  return `${VERSION} (build ${BUILD.build}, ${BUILD.date})`;
}
