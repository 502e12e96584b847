/**
 * The release tarball: `npm pack` of a built checkout, installed with `npm install -g` into a
 * fresh prefix, gives a `fogline` command that works without the repository: it reports its
 * version and build, and `fogline server` run from a folder outside the checkout serves
 * /healthz and the dashboard. The install takes its packages from this machine's npm cache
 * (--prefer-offline); a package missing there comes from the registry.
 *
 * better-sqlite3's native module comes the way the README tells an offline fleet to give it: a
 * prebuild in a local folder (npm_config_better_sqlite3_local_prebuilds), here made from the
 * checkout's own build. Without it, the install compiles SQLite (about 5 minutes on a busy
 * 2-core machine) or downloads the prebuild from GitHub.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { beforeAllOrFail } from '../support/before-all-or-fail.js';
import { cleanFoglineEnv, requestJson, tempDir } from '../support/processes.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const { version: VERSION } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };

let work = '';
let tarball = '';
let files: string[] = [];
let fogline = '';
let server: ChildProcess | undefined;

/** Runs a command to completion; throws with its output when it fails. */
function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): string {
  const result = spawnSync(command, args, { ...options, encoding: 'utf8', env: { ...process.env, ...options.env }, timeout: 150_000 });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited ${result.status ?? result.signal}:\n${result.stdout}\n${result.stderr}`);
  }
  return result.stdout;
}

beforeAllOrFail(async () => {
  for (const built of ['dist/cli/main.js', 'dist/dashboard/index.html', 'dist/build-info.json']) {
    if (!fs.existsSync(path.join(ROOT, built))) throw new Error(`${built} is missing: run \`npm run build\` before this test`);
  }
  work = tempDir('release');
  // `npm pack` runs `prepare` (scripts/prepare.js): it rebuilds only what is out of date and
  // records the commit in dist/build-info.json.
  const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], { cwd: ROOT })) as [
    { filename: string; files: { path: string }[] },
  ];
  tarball = path.join(work, packed[0].filename);
  files = packed[0].files.map((file) => file.path);
  const prefix = path.join(work, 'prefix');
  const prebuilds = path.join(work, 'prebuilds');
  fs.mkdirSync(prebuilds);
  const sqlite = path.join(ROOT, 'node_modules', 'better-sqlite3');
  const { version: sqliteVersion } = JSON.parse(fs.readFileSync(path.join(sqlite, 'package.json'), 'utf8')) as { version: string };
  const prebuild = `better-sqlite3-v${sqliteVersion}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  run('tar', ['-czf', path.join(prebuilds, prebuild), 'build/Release/better_sqlite3.node'], { cwd: sqlite });
  // ONNXRUNTIME_NODE_INSTALL=skip: onnxruntime-node's install script would otherwise download
  // the CUDA provider from GitHub; the CPU runtime is in its package.
  run('npm', ['install', '-g', '--prefix', prefix, tarball, '--prefer-offline', '--no-audit', '--no-fund'], {
    cwd: work,
    env: { ONNXRUNTIME_NODE_INSTALL: 'skip', npm_config_better_sqlite3_local_prebuilds: prebuilds },
  });
  fogline = path.join(prefix, 'bin', 'fogline');
}, 240_000);

afterAll(async () => {
  if (server && server.exitCode === null && server.signalCode === null) {
    server.kill('SIGKILL');
    await new Promise((resolve) => server?.once('exit', resolve));
  }
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('the release tarball', () => {
  it('holds the built CLI, the dashboard, the demo data, bin, LICENSE and README, and no sources', () => {
    expect(path.basename(tarball)).toBe(`fogline-${VERSION}.tgz`);
    for (const file of [
      'bin/fogline.js',
      'dist/cli/main.js',
      'dist/build-info.json',
      'dist/dashboard/index.html',
      'dist/store/migrations/index.js',
      'data/energy/PJME_hourly_trimmed.csv',
      'LICENSE',
      'README.md',
      'package.json',
    ]) {
      expect(files, file).toContain(file);
    }
    expect(files.filter((file) => /^(src|test|dashboard|scripts|bench)\//.test(file) || file.endsWith('.map'))).toEqual([]);
  });

  it('installs a fogline command that prints its version and build', () => {
    const printed = run(fogline, ['--version'], { cwd: work }).trim();
    expect(printed).toMatch(
      new RegExp(`^${VERSION.replace(/\./g, '\\.')} \\(build [0-9a-f]{7,}(-dirty)?, \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\)$`),
    );
  });

  it('runs a control plane from outside the checkout that serves /healthz and the dashboard', async () => {
    const elsewhere = path.join(work, 'elsewhere');
    fs.mkdirSync(elsewhere);
    const proc = spawn(fogline, ['server', '--data-dir', path.join(work, 'data'), '--port', '0'], {
      cwd: elsewhere,
      env: { ...process.env, ...cleanFoglineEnv() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server = proc;
    let output = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "listening on" within 30 s:\n${output}`)), 30_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        const match = /listening on (http:\/\/\S+)/.exec(output);
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      };
      proc.stdout.on('data', onData);
      proc.stderr.on('data', onData);
      proc.once('exit', (code) => reject(new Error(`fogline server exited ${code}:\n${output}`)));
    });
    const build = (JSON.parse(fs.readFileSync(path.join(ROOT, 'dist', 'build-info.json'), 'utf8')) as { build: string }).build;
    expect(await requestJson(`${url}/healthz`)).toEqual({ status: 200, body: { status: 'ok', version: VERSION, build } });
    const ui = await fetch(`${url}/ui/`);
    expect(ui.status).toBe(200);
    expect(ui.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await ui.text();
    const script = /<script[^>]+src="([^"]+\.js)"/.exec(html)?.[1];
    expect(script, html).toBeDefined();
    const asset = await fetch(new URL(script as string, `${url}/ui/`));
    expect(asset.status).toBe(200);
    expect((await asset.text()).length).toBeGreaterThan(1000);

    const exited = new Promise<number | null>((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 60_000);
});
