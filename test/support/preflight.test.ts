/**
 * The suite's preflight against real files, ports and vitest runs: it names each missing thing
 * with the command that installs it, checks only what the selected files need, and stops a real
 * `vitest run` before any test when something is missing.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { describeMissing, preflight, PROGRAM_PACKAGES, TEST_PACKAGES } from './preflight.js';
import { freePort, tempDir } from './processes.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const file = (relative: string) => path.join(ROOT, relative);
const BROWSER_TEST = file('test/browser/dashboard.test.ts');
const PROMETHEUS_TEST = file('test/e2e/prometheus.test.ts');
const TLS_TEST = file('test/e2e/tls.test.ts');
const STORE_TEST = file('test/store/store.test.ts');
const STORAGE_FAULTS_TEST = file('test/e2e/storage-faults.test.ts');
/** A unit test that needs nothing outside Node. */
const PLAIN_TEST = file('src/store/database-url.test.ts');

const dir = tempDir('preflight');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A folder for PATH holding an executable file for each name. */
function binFolder(name: string, programs: string[]): string {
  const bin = path.join(dir, name);
  fs.mkdirSync(bin);
  for (const program of programs) fs.writeFileSync(path.join(bin, program), '#!/bin/sh\n', { mode: 0o755 });
  return bin;
}

/** Database URLs on ports where nothing listens. */
async function closedDatabases(): Promise<NodeJS.ProcessEnv> {
  return {
    FOGLINE_TEST_POSTGRES_URL: `postgres://postgres@127.0.0.1:${await freePort()}/postgres`,
    FOGLINE_TEST_MYSQL_URL: `mysql://root:secret@127.0.0.1:${await freePort()}/`,
  };
}

/** `vitest run <args>` in the repository, as a user would start it; resolves with its exit code and output. */
function vitestRun(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  // Without this run's own VITEST_* variables, the child is a top-level run like any other.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('VITEST') && name !== 'TEST'));
  const child = spawn(process.execPath, [file('node_modules/vitest/vitest.mjs'), 'run', ...args], {
    cwd: ROOT,
    env: { ...inherited, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, output })));
}

describe('test preflight', () => {
  it('names each missing thing, the files that need it and the command that installs it', async () => {
    const databases = await closedDatabases();
    const chromium = path.join(dir, 'no-such-chromium');
    const missing = await preflight([BROWSER_TEST, PROMETHEUS_TEST, TLS_TEST, STORE_TEST, STORAGE_FAULTS_TEST, PLAIN_TEST], {
      env: { FOGLINE_CHROMIUM: chromium, PATH: binFolder('empty-bin', []), ...databases },
      uid: 1000,
    });

    const byWhat = new Map(missing.map((item) => [item.what, item]));
    const postgres = `PostgreSQL at ${databases.FOGLINE_TEST_POSTGRES_URL}`;
    const mariadb = `MariaDB at ${databases.FOGLINE_TEST_MYSQL_URL!.replace(':secret@', ':***@')}`;
    expect([...byWhat.keys()].sort()).toEqual(
      [`Chromium at ${chromium}`, mariadb, postgres, 'openssl', 'prometheus', 'promtool', 'root'].sort(),
    );
    expect(byWhat.get(`Chromium at ${chromium}`)).toMatchObject({ problem: 'not found', files: ['test/browser/dashboard.test.ts'] });
    expect(byWhat.get('prometheus')).toMatchObject({ problem: 'not on PATH', files: ['test/e2e/prometheus.test.ts'] });
    expect(byWhat.get('openssl')?.files).toEqual(['test/e2e/tls.test.ts']);
    expect(byWhat.get('root')?.files).toEqual(['test/e2e/storage-faults.test.ts']);
    expect(byWhat.get(postgres)).toMatchObject({ files: ['test/store/store.test.ts'] });
    expect(byWhat.get(postgres)?.problem).toMatch(/ECONNREFUSED/);
    expect(byWhat.get(mariadb)?.problem).toMatch(/ECONNREFUSED/);
    for (const item of missing) {
      if (item.what !== 'root') expect(item.fix, item.what).toMatch(/^sudo scripts\/install-test-deps\.sh \(/);
    }
    expect(byWhat.get('root')?.fix).toMatch(/run the tests as root/);

    const message = describeMissing(missing, 1000);
    expect(message).toMatch(/^Preflight: the selected tests need 7 things this machine lacks, so none ran\./);
    expect(message).toContain(
      `✗ Chromium at ${chromium}: not found\n    needed by test/browser/dashboard.test.ts\n    fix: sudo scripts/install-test-deps.sh`,
    );
    expect(message).toContain('FOGLINE_CHROMIUM=<path of a Chromium>');
    expect(message).toContain('DIALECTS=sqlite');
    expect(message).not.toContain('secret');
    expect(message).toMatch(/Install and start all of it at once \(Debian or Ubuntu\): sudo scripts\/install-test-deps\.sh$/);
  });

  it('is satisfied by what is there, and checks only what the selected files need', async () => {
    const everything = [BROWSER_TEST, PROMETHEUS_TEST, TLS_TEST, STORE_TEST, STORAGE_FAULTS_TEST, PLAIN_TEST];
    const bin = binFolder('full-bin', ['chromium', 'openssl', 'prometheus', 'promtool']);
    // The databases the store suite uses here (none under DIALECTS=sqlite).
    const present = { env: { ...process.env, FOGLINE_CHROMIUM: path.join(bin, 'chromium'), PATH: bin }, uid: 0 };
    expect(await preflight(everything, present)).toEqual([]);

    const nothing = { env: { FOGLINE_CHROMIUM: path.join(dir, 'none'), PATH: '', ...(await closedDatabases()) }, uid: 1000 };
    expect(await preflight([PLAIN_TEST], nothing)).toEqual([]);
    // DIALECTS=sqlite (npm run test:quick) leaves the database servers out.
    expect(await preflight([STORE_TEST], { ...nothing, env: { ...nothing.env, DIALECTS: 'sqlite' } })).toEqual([]);

    fs.writeFileSync(path.join(dir, 'not-executable'), '');
    const notExecutable = { ...present, env: { ...present.env, FOGLINE_CHROMIUM: path.join(dir, 'not-executable') } };
    expect(await preflight([BROWSER_TEST], notExecutable)).toMatchObject([{ problem: 'not an executable file' }]);
  });

  it('stops `vitest run` before any test with its message, and lets a run go whose files need nothing missing', async () => {
    const missingChromium = { FOGLINE_CHROMIUM: path.join(dir, 'no-chromium'), ...(await closedDatabases()) };

    const browser = await vitestRun(['test/browser/dashboard.test.ts'], missingChromium);
    expect(browser.code, browser.output).toBe(1);
    expect(browser.output).toContain(`✗ Chromium at ${missingChromium.FOGLINE_CHROMIUM}: not found`);
    expect(browser.output).toMatch(/fix: (sudo )?scripts\/install-test-deps\.sh \(Debian's chromium package\)/);
    // Only what the file needs: the closed database ports are not mentioned.
    expect(browser.output).not.toContain('PostgreSQL');
    expect(browser.output).not.toMatch(/Test Files|skipped/);

    // A store test on SQLite only (npm run test:quick's DIALECTS), with both database servers out of reach.
    const quick = await vitestRun(['test/store/store.test.ts'], { ...missingChromium, DIALECTS: 'sqlite' });
    expect(quick.code, quick.output).toBe(0);
    expect(quick.output).toMatch(/Test Files +1 passed/);
  });

  it('knows the Debian package of every program a test looks up, and the install script installs each package it names', () => {
    const testFiles = ['src', 'test']
      .flatMap((top) => fs.readdirSync(file(top), { recursive: true, encoding: 'utf8' }).map((name) => path.join(top, name)))
      .filter((name) => name.endsWith('.test.ts') && name !== 'test/support/preflight.test.ts');
    const programs = testFiles.flatMap((name) =>
      [...fs.readFileSync(file(name), 'utf8').matchAll(/requireBinary\('([^']+)'\)/g)].map((match) => match[1]!),
    );
    expect(programs).toContain('prometheus');
    for (const program of programs) expect(PROGRAM_PACKAGES, program).toHaveProperty(program);

    const script = fs.readFileSync(file('scripts/install-test-deps.sh'), 'utf8');
    const list = /^PACKAGES=\(\n([\s\S]*?)\n\)/m.exec(script)?.[1] ?? '';
    const installed = list.split('\n').flatMap((line) => line.replace(/#.*/, '').trim().split(/\s+/));
    for (const debianPackage of TEST_PACKAGES) expect(installed, debianPackage).toContain(debianPackage);
  });
});
