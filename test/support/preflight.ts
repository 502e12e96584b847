/**
 * The test suite's preflight (vitest `globalSetup`): before any test runs, checks that this machine
 * has what the selected test files need, and if something is missing, stops the run with one
 * message that names each missing thing and the command that installs or starts it. A missing
 * dependency thus never reaches the tests, where it would be reported as skipped tests (a
 * `beforeAll` that throws) or as dozens of failures with one cause.
 *
 * What a file needs is read from the file and the test/ modules it imports, so that
 * `npx vitest run <file>` checks only what that file needs: a file that imports
 * test/browser/browser.ts needs Chromium, one that imports test/support/databases.ts needs the
 * PostgreSQL and MariaDB servers that `DIALECTS` names, and so on (see `requirements`).
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { databaseServers } from './database-servers.js';
import { pythonPath, pythonTorchProblem } from './python-torch.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SELF = fileURLToPath(import.meta.url);

/** What the checks read: the environment and the user the tests run as. */
export interface PreflightEnvironment {
  env: NodeJS.ProcessEnv;
  uid: number | undefined;
}

export const CURRENT: PreflightEnvironment = { env: process.env, uid: process.getuid?.() };

/** Something the selected tests need and this machine lacks. */
export interface Missing {
  /** What, and where it was looked for: "Chromium at /usr/bin/chromium". */
  what: string;
  /** Why it counts as missing: "not found", "connect ECONNREFUSED 127.0.0.1:5432". */
  problem: string;
  /** How to get it. */
  fix: string;
  /** The selected test files that need it, relative to the repository root. */
  files: string[];
}

/** What a test file uses, with the test/ modules it imports (transitively). */
interface TestFileUses {
  /** Repository-relative paths of the file and the test/ modules it imports. */
  modules: Set<string>;
  /** Their source text, together. */
  source: string;
}

interface Requirement {
  neededBy(uses: TestFileUses): boolean;
  /** Resolves to undefined when it is there. */
  check(): Promise<Omit<Missing, 'files'> | undefined>;
}

/** Where the browser tests find Chromium: `FOGLINE_CHROMIUM`, else Debian's /usr/bin/chromium. */
export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.FOGLINE_CHROMIUM ?? '/usr/bin/chromium';
}

/** The command that installs and starts everything the tests need (Debian or Ubuntu). */
export function installCommand(uid: number | undefined = CURRENT.uid): string {
  return `${uid === 0 ? '' : 'sudo '}scripts/install-test-deps.sh`;
}

/** How to get Chromium; browser.ts fails each browser test with it when Chromium is missing. */
export function chromiumFix(uid: number | undefined = CURRENT.uid): string {
  return `${installCommand(uid)} (Debian's chromium package), or FOGLINE_CHROMIUM=<path of a Chromium>`;
}

/**
 * Programs that test files look up on PATH with `requireBinary('<name>')`, and the Debian package
 * that has each; scripts/install-test-deps.sh installs these packages (a test checks).
 */
export const PROGRAM_PACKAGES: Record<string, string> = {
  prometheus: 'prometheus',
  promtool: 'prometheus',
  nginx: 'nginx-light',
  'redis-server': 'redis-server',
  openssl: 'openssl',
  kubectl: 'kubectl',
  'docker-compose': 'docker-compose',
  'ansible-playbook': 'ansible',
  'ansible-lint': 'ansible-lint',
  'systemd-analyze': 'systemd',
  mosquitto: 'mosquitto',
  mosquitto_passwd: 'mosquitto',
  mosquitto_pub: 'mosquitto-clients',
  mosquitto_sub: 'mosquitto-clients',
};

/** Every Debian package a requirement names; the install script must install each. */
export const TEST_PACKAGES = [
  'chromium',
  'openssl',
  'postgresql',
  'mariadb-server',
  'python3-torch',
  'python3-onnx',
  ...new Set(Object.values(PROGRAM_PACKAGES)),
];

/** Programs a test file looks up on PATH with `requireBinary('<name>')`. */
function programsOf(uses: TestFileUses): string[] {
  return [...uses.source.matchAll(/requireBinary\('([^']+)'\)/g)].map((match) => match[1]!);
}

function requirements({ env, uid }: PreflightEnvironment, programNames: string[]): Requirement[] {
  const install = installCommand(uid);
  const imports = (module: string) => (uses: TestFileUses) => uses.modules.has(module);
  const { dialects, postgresUrl, mysqlUrl } = databaseServers(env);
  // Debian keeps daemons (nginx, redis-server) in /usr/sbin, which a non-root PATH may lack.
  const onPath = (name: string) =>
    [...(env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/sbin'].some((dir) => dir !== '' && isExecutable(path.join(dir, name)));

  const list: Requirement[] = [
    {
      neededBy: imports('test/browser/browser.ts'),
      check: async () => {
        const chromium = chromiumPath(env);
        return isExecutable(chromium) ? undefined : { what: `Chromium at ${chromium}`, problem: notThere(chromium), fix: chromiumFix(uid) };
      },
    },
    {
      neededBy: imports('test/support/python-torch.ts'),
      check: async () => {
        const python = pythonPath(env);
        const problem = await pythonTorchProblem(python);
        return problem
          ? { what: `PyTorch and ONNX for ${python}`, problem, fix: `${install} (Debian's python3-torch and python3-onnx packages)` }
          : undefined;
      },
    },
    {
      neededBy: imports('test/support/redis.ts'),
      check: async () => {
        const url = env.FOGLINE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
        const problem = await redisProblem(url);
        return problem
          ? {
              what: `Redis at ${url}`,
              problem,
              fix: `${install} (Debian's redis-server package, started), or FOGLINE_TEST_REDIS_URL=<url>`,
            }
          : undefined;
      },
    },
    {
      // The machine's broker, which device tests and agents share (test/support/mqtt.ts SHARED_BROKER).
      neededBy: imports('test/support/mqtt.ts'),
      check: async () => {
        const problem = await tcpProblem('127.0.0.1', 1883);
        return problem
          ? { what: 'an MQTT broker on 127.0.0.1:1883', problem, fix: `${install} (Debian's mosquitto package, started)` }
          : undefined;
      },
    },
    {
      neededBy: imports('test/support/certificates.ts'),
      check: async () =>
        onPath('openssl') ? undefined : { what: 'openssl', problem: 'not on PATH', fix: `${install} (Debian's openssl package)` },
    },
    {
      neededBy: imports('test/support/private-postgres.ts'),
      check: async () =>
        postgresServerPrograms()
          ? undefined
          : {
              what: "PostgreSQL's server programs (initdb, pg_ctl)",
              problem: 'none under /usr/lib/postgresql/<version>/bin',
              fix: `${install} (Debian's postgresql package)`,
            },
    },
    ...programNames.map((name): Requirement => ({
      neededBy: (uses) => programsOf(uses).includes(name),
      check: async () => {
        if (onPath(name)) return undefined;
        const debianPackage = PROGRAM_PACKAGES[name];
        const fix = debianPackage ? `${install} (Debian's ${debianPackage} package)` : `install ${name} (${install} does not)`;
        return { what: name, problem: 'not on PATH', fix };
      },
    })),
    {
      neededBy: (uses) => /execFileSync\('mount'/.test(uses.source),
      check: async () =>
        uid === 0
          ? undefined
          : {
              what: 'root',
              problem: `the tests run as user ${uid}, and these mount tmpfs file systems`,
              fix: 'run the tests as root, as CI does (sudo npm test)',
            },
    },
  ];
  if (dialects.includes('postgres')) {
    list.push({
      neededBy: imports('test/support/databases.ts'),
      check: () => databaseProblem(postgresUrl, 'PostgreSQL', 'FOGLINE_TEST_POSTGRES_URL', install, reachPostgres),
    });
  }
  if (dialects.includes('mysql')) {
    list.push({
      neededBy: imports('test/support/databases.ts'),
      check: () => databaseProblem(mysqlUrl, 'MariaDB', 'FOGLINE_TEST_MYSQL_URL', install, reachMysql),
    });
  }
  return list;
}

/**
 * Checks what `files` (absolute paths of test files) need; resolves to what is missing, empty
 * when all is there. Only the requirements some file has are checked, all at once.
 */
export async function preflight(files: string[], environment: PreflightEnvironment = CURRENT): Promise<Missing[]> {
  const uses = new Map(files.map((file) => [path.relative(ROOT, file), usesOf(file)]));
  const programNames = [...new Set([...uses.values()].flatMap(programsOf))];
  const checks = requirements(environment, programNames).map(async (requirement) => {
    const needing = [...uses].filter(([, use]) => requirement.neededBy(use)).map(([file]) => file);
    if (needing.length === 0) return undefined;
    const missing = await requirement.check();
    return missing && { ...missing, files: needing.sort() };
  });
  return (await Promise.all(checks)).filter((missing) => missing !== undefined);
}

/** The one message that stops the run. */
export function describeMissing(missing: Missing[], uid: number | undefined = CURRENT.uid): string {
  const lines = [
    `Preflight: the selected tests need ${missing.length === 1 ? 'something' : `${missing.length} things`} this machine lacks, so none ran.`,
  ];
  for (const { what, problem, fix, files } of missing) {
    const shown = files.length <= 3 ? files.join(', ') : `${files.slice(0, 3).join(', ')} and ${files.length - 3} more`;
    lines.push('', `  ✗ ${what}: ${problem}`, `    needed by ${shown}`, `    fix: ${fix}`);
  }
  const install = installCommand(uid);
  if (missing.some(({ fix }) => fix.startsWith(install)))
    lines.push('', `Install and start all of it at once (Debian or Ubuntu): ${install}`);
  return lines.join('\n');
}

/** vitest globalSetup: checks the files this run selected, and ends the run when something is missing. */
export default async function setup(project: TestProject): Promise<void> {
  // The files this run selected (an experimental vitest API); all test files if it is unavailable.
  const selected = project.vitest.state?.getPaths?.() ?? [];
  const files = selected.length > 0 ? selected : (await project.globTestFiles()).testFiles;
  const missing = await preflight(files);
  if (missing.length === 0) return;
  // One message and a failed run: thrown, the error would come wrapped in vitest's "Unhandled
  // Error" and "No test files found".
  process.stderr.write(`\n${describeMissing(missing)}\n\n`);
  process.exit(1);
}

function usesOf(file: string): TestFileUses {
  const modules = new Set<string>();
  const sources: string[] = [];
  const visit = (module: string) => {
    const relative = path.relative(ROOT, module);
    // This file is not a test's: its comments and patterns would read as needs.
    if (modules.has(relative) || module === SELF || !fs.existsSync(module)) return;
    modules.add(relative);
    const source = fs.readFileSync(module, 'utf8');
    sources.push(source);
    for (const [, specifier] of source.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
      const imported = path.resolve(path.dirname(module), specifier!.replace(/\.js$/, '.ts'));
      if (imported.startsWith(path.join(ROOT, 'test') + path.sep)) visit(imported);
    }
  };
  visit(file);
  return { modules, source: sources.join('\n') };
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function notThere(file: string): string {
  return fs.existsSync(file) ? 'not an executable file' : 'not found';
}

function postgresServerPrograms(): boolean {
  const versions = fs.existsSync('/usr/lib/postgresql') ? fs.readdirSync('/usr/lib/postgresql') : [];
  return versions.some((version) =>
    ['initdb', 'pg_ctl'].every((tool) => isExecutable(path.join('/usr/lib/postgresql', version, 'bin', tool))),
  );
}

const CONNECT_TIMEOUT_MS = 3000;

// The database clients load only when a selected file needs a server.
async function reachPostgres(url: string): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  try {
    await client.connect();
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function reachMysql(url: string): Promise<void> {
  const { default: mysql } = await import('mysql2/promise');
  const connection = await mysql.createConnection({ uri: url, connectTimeout: CONNECT_TIMEOUT_MS });
  await connection.end();
}

async function databaseProblem(
  url: string,
  server: string,
  variable: string,
  install: string,
  reach: (url: string) => Promise<void>,
): Promise<Omit<Missing, 'files'> | undefined> {
  try {
    await reach(url);
    return undefined;
  } catch (error) {
    return {
      what: `${server} at ${withoutPassword(url)}`,
      problem: errorText(error),
      fix: `${install} (installs and starts it), or ${variable}=<url of another server>, or DIALECTS=sqlite to run the store suite on SQLite only`,
    };
  }
}

function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

/** An error's message; Node's connect errors to several addresses are AggregateErrors without one. */
function errorText(error: unknown): string {
  if (error instanceof AggregateError && error.message === '') return [...new Set(error.errors.map(errorText))].join('; ');
  if (error instanceof Error) return error.message || (error as NodeJS.ErrnoException).code || error.name;
  return String(error);
}

/** Why nothing accepts a TCP connection on host:port, or undefined when something does. */
function tcpProblem(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: CONNECT_TIMEOUT_MS });
    socket.once('connect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(`no answer within ${CONNECT_TIMEOUT_MS} ms`);
    });
    socket.once('error', (error) => resolve(errorText(error)));
  });
}

/** Why Redis at `url` does not answer PING, or undefined when it does (ioredis loaded only when a test needs Redis). */
async function redisProblem(url: string): Promise<string | undefined> {
  const { Redis } = await import('ioredis');
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    client.disconnect();
  }
}
