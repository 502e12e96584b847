import type { DatabaseLocation } from './database-url.js';

/** Host, port, user and database name of a server URL, as the command-line clients take them. */
interface ServerTarget {
  host: string;
  port: string;
  user: string;
  password: boolean;
  database: string;
}

const DEFAULT_PORTS = { postgres: '5432', mysql: '3306' } as const;

function serverTarget(location: DatabaseLocation): ServerTarget | undefined {
  if (location.dialect === 'sqlite') return undefined;
  try {
    const url = new URL(location.target);
    return {
      host: url.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost',
      port: url.port || DEFAULT_PORTS[location.dialect],
      user: decodeURIComponent(url.username),
      password: url.password !== '',
      database: decodeURIComponent(url.pathname.replace(/^\//, '')),
    };
  } catch {
    return undefined;
  }
}

/** Quotes a word for a POSIX shell when it needs it (hints are pasted into one). */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** `-h HOST [-p PORT] [-U USER]` for createdb/dropdb (the port only when it is not the default). */
function postgresFlags(target: ServerTarget): string {
  const flags = [`-h ${shellWord(target.host)}`];
  if (target.port !== DEFAULT_PORTS.postgres) flags.push(`-p ${target.port}`);
  if (target.user) flags.push(`-U ${shellWord(target.user)}`);
  return flags.join(' ');
}

/** `mariadb -h HOST [-P PORT] [-u USER] [-p] -e 'SQL'` (-p asks for the password when the URL has one). */
function mariadbCommand(target: ServerTarget, statements: string): string {
  const flags = [`-h ${shellWord(target.host)}`];
  if (target.port !== DEFAULT_PORTS.mysql) flags.push(`-P ${target.port}`);
  if (target.user) flags.push(`-u ${shellWord(target.user)}`);
  if (target.password) flags.push('-p');
  return `mariadb ${flags.join(' ')} -e ${shellWord(statements)}`;
}

/** MariaDB identifiers in backquotes only when they need them. */
function sqlName(name: string): string {
  return /^\w+$/.test(name) ? name : `\`${name.replaceAll('`', '``')}\``;
}

/**
 * The command that creates the database a URL names, e.g. `createdb -h db.local -U fogline fogline`
 * or `mariadb -h db.local -u root -e 'CREATE DATABASE fogline'`; undefined for SQLite (the file is
 * created on first use) or a URL without a database name.
 */
export function createDatabaseCommand(location: DatabaseLocation): string | undefined {
  const target = serverTarget(location);
  if (!target?.database) return undefined;
  return location.dialect === 'postgres'
    ? `createdb ${postgresFlags(target)} ${shellWord(target.database)}`
    : mariadbCommand(target, `CREATE DATABASE ${sqlName(target.database)}`);
}

/**
 * How to empty a database for a fresh start: drop and create it again (PostgreSQL, MariaDB), or
 * delete the file and its WAL companions (SQLite).
 */
export function recreateDatabaseCommand(location: DatabaseLocation): string {
  if (location.dialect === 'sqlite') {
    const file = shellWord(location.target);
    return `rm ${file} ${file}-wal ${file}-shm`;
  }
  const target = serverTarget(location);
  if (!target?.database) return `drop the database and create it again`;
  if (location.dialect === 'postgres') {
    const flags = postgresFlags(target);
    return `dropdb ${flags} ${shellWord(target.database)} && createdb ${flags} ${shellWord(target.database)}`;
  }
  const name = sqlName(target.database);
  return mariadbCommand(target, `DROP DATABASE ${name}; CREATE DATABASE ${name}`);
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  // Node reports a refused connection to a name with several addresses as an AggregateError.
  if (error instanceof AggregateError) return error.errors.map(errorCode).find((inner) => inner !== undefined);
  return undefined;
}

/**
 * What to do about an error the database server gave when Fogline opened or migrated it: a
 * database that does not exist, a refused login, nothing listening. Undefined when there is no
 * better advice than the error itself.
 */
export function databaseErrorHint(error: unknown, location: DatabaseLocation): string | undefined {
  const target = serverTarget(location);
  if (!target) return undefined;
  const server = location.dialect === 'postgres' ? 'PostgreSQL' : 'MariaDB';
  const where = `${target.host}:${target.port}`;
  const inUrl = 'in the database URL (--db / FOGLINE_DB)';
  switch (errorCode(error)) {
    case '3D000': // PostgreSQL: invalid_catalog_name
    case 'ER_BAD_DB_ERROR': {
      const create = createDatabaseCommand(location);
      return create ? `Create it first: ${create}` : undefined;
    }
    case '28P01': // PostgreSQL: invalid_password
    case 'ER_ACCESS_DENIED_ERROR':
      return `Check the user name and password ${inUrl}.`;
    case '28000': // PostgreSQL: no such role, or pg_hba.conf refuses it
      return `Check the user name ${inUrl}, and that ${server} lets that user connect from this host (pg_hba.conf).`;
    case 'ER_DBACCESS_DENIED_ERROR':
      return `Give the user access to it: GRANT ALL ON ${sqlName(target.database)}.* TO '${target.user}'@'%'`;
    case '42501': // PostgreSQL: insufficient_privilege, e.g. no CREATE on schema public (PostgreSQL 15+)
      return `The user may not create tables there: make it the database's owner (ALTER DATABASE ${target.database} OWNER TO ${target.user}).`;
    case 'ECONNREFUSED':
      return `Nothing accepts connections at ${where}: start ${server} there, or fix the host and port ${inUrl}.`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `The host name "${target.host}" does not resolve: fix it ${inUrl}.`;
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${where} does not answer: check the host and port ${inUrl}, and any firewall between.`;
    default:
      return undefined;
  }
}
