import { ConfigError } from '../errors/config-error.js';

export type DialectName = 'sqlite' | 'postgres' | 'mysql';

export interface DatabaseLocation {
  dialect: DialectName;
  /** File path for SQLite, connection URL otherwise. */
  target: string;
}

/** Reads `FOGLINE_DB`: `sqlite:<path>`, `postgres://…` / `postgresql://…`, `mysql://…` / `mariadb://…`. */
export function parseDatabaseUrl(url: string): DatabaseLocation {
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (file === '') throw invalid(url);
    return { dialect: 'sqlite', target: file };
  }
  if (/^postgres(ql)?:\/\//.test(url)) return { dialect: 'postgres', target: url };
  if (/^(mysql|mariadb):\/\//.test(url)) return { dialect: 'mysql', target: url.replace(/^mariadb:/, 'mysql:') };
  throw invalid(url);
}

function invalid(url: string): ConfigError {
  return new ConfigError(
    `Unsupported database URL "${redactPassword(url)}": use sqlite:<path>, postgres://user@host/db or mysql://user@host/db`,
  );
}

/** Hides the password of a connection URL before it is logged or shown. */
export function redactPassword(url: string): string {
  return url.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1***@');
}
