/**
 * deploy/docker/Dockerfile, checked without a Docker engine (this machine has none, so the image
 * is never built here, and `docker build --check` needs an engine too): the file is parsed and
 * what the image promises is asserted: a named build stage, a pinned slim runtime, a non-root
 * user, one data volume, no secret in ENV/ARG, only built output copied from the build stage.
 *
 * The runtime stage's files are then laid out in a temporary folder exactly as its COPY lines
 * place them under /app (node_modules linked, not pruned), and `fogline server` is started from
 * there with the image's ENV: the image's health check command, run as written, passes against it
 * and fails against a port where nothing answers.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { beforeAllOrFail } from '../support/before-all-or-fail.js';
import { eventually, freePort, tempDir } from '../support/processes.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOCKERFILE = path.join(ROOT, 'deploy/docker/Dockerfile');

interface Instruction {
  keyword: string;
  args: string;
}

interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** Instructions of a Dockerfile: comments dropped, `\` continuations joined. */
function parseInstructions(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (pending !== '' && line.startsWith('#')) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const whole = (pending + line).trim();
    pending = '';
    const match = /^(\S+)\s*(.*)$/s.exec(whole);
    if (match) instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]! });
  }
  return instructions;
}

/** The ARG defaults declared before the first FROM. */
function globalArgs(instructions: Instruction[]): Record<string, string> {
  const args: Record<string, string> = {};
  for (const { keyword, args: value } of instructions) {
    if (keyword === 'FROM') break;
    if (keyword === 'ARG') {
      const [name, defaultValue] = value.split('=');
      args[name!.trim()] = defaultValue?.trim() ?? '';
    }
  }
  return args;
}

function stagesOf(instructions: Instruction[], args: Record<string, string>): Stage[] {
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const [image, as, name] = instruction.args.replace(/\$\{(\w+)\}/g, (_, arg: string) => args[arg] ?? '').split(/\s+/);
      stages.push({ from: image!, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else if (stages.length > 0) {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return stages;
}

/** ENV lines (key=value pairs) of a stage. */
function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { args } of stage.instructions.filter((i) => i.keyword === 'ENV')) {
    for (const match of args.matchAll(/(\w+)=(\S+)/g)) env[match[1]!] = match[2]!;
  }
  return env;
}

/** COPY's flags, sources and destination. */
function copyOf(args: string): { from?: string; sources: string[]; dest: string } {
  const words = args.split(/\s+/);
  const flags = words.filter((word) => word.startsWith('--'));
  const paths = words.filter((word) => !word.startsWith('--'));
  const from = flags.find((flag) => flag.startsWith('--from='))?.slice('--from='.length);
  return { from, sources: paths.slice(0, -1), dest: paths.at(-1)! };
}

/** An exec-form (JSON array) argument of CMD, ENTRYPOINT, VOLUME or HEALTHCHECK … CMD. */
function execForm(args: string): string[] {
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((word) => typeof word === 'string')) throw new Error(`not an exec form: ${args}`);
  return parsed as string[];
}

const instructions = parseInstructions(fs.readFileSync(DOCKERFILE, 'utf8'));
const args = globalArgs(instructions);
const stages = stagesOf(instructions, args);
const build = stages.find((stage) => stage.name === 'build');
const runtime = stages.at(-1)!;
const runtimeEnv = envOf(runtime);
const healthcheck = runtime.instructions.find((i) => i.keyword === 'HEALTHCHECK');
const allowScripts = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { allowScripts: Record<string, boolean> })
  .allowScripts;

describe('deploy/docker/Dockerfile', () => {
  it('builds in a named build stage and runs from a pinned slim Node.js 20 image', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(build, 'a stage named build').toBeDefined();
    // Pinned to a patch release (no latest, no floating major): the image is reproducible.
    for (const stage of stages) expect(stage.from).toMatch(/^node:20\.\d+\.\d+-bookworm(-slim)?$/);
    expect(runtime.from).toMatch(/-slim$/);
    expect(runtime).not.toBe(build);
  });

  it('installs with npm ci, runs only the install scripts package.json allows, builds, and prunes dev dependencies', () => {
    const runs = build!.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    const all = runs.join(' && ');
    expect(all).toMatch(/npm ci --ignore-scripts/);
    expect(all).toMatch(/npm run build/);
    expect(all).toMatch(/npm prune --omit=dev/);
    // Only Linux's ONNX Runtime binaries go into the image: a path the package really has.
    const onnxBinaries = /rm -rf (node_modules\/onnxruntime-node\/bin\/napi-v\*)\/darwin/.exec(all)?.[1];
    expect(onnxBinaries).toBeDefined();
    const napi = fs.readdirSync(path.join(ROOT, 'node_modules/onnxruntime-node/bin')).filter((dir) => dir.startsWith('napi-v'));
    expect(napi.length).toBeGreaterThan(0);
    for (const dir of napi) expect(fs.readdirSync(path.join(ROOT, 'node_modules/onnxruntime-node/bin', dir))).toContain('linux');
    // `npm ci --ignore-scripts` skips every install script; those allowScripts marks true run again.
    const rebuilt = /npm rebuild ([\w@/ -]+?)(?:&&|$)/.exec(all)?.[1]?.trim().split(/\s+/) ?? [];
    const allowed = Object.entries(allowScripts)
      .filter(([, allow]) => allow)
      .map(([name]) => name);
    expect(rebuilt.sort()).toEqual(allowed.sort());
    expect(envOf(build!).ONNXRUNTIME_NODE_INSTALL).toBe('skip');
    // The build stage copies files that exist in the repository and that .dockerignore lets into the context.
    const ignored = fs
      .readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    // …and keeps what is local to a clone out of it: dependencies and builds of this machine, data, secrets.
    for (const local of ['node_modules', 'dist', '.fogline', '.git', '.env', '**/*.pem', '**/*.token']) expect(ignored).toContain(local);
    for (const { args: copy } of build!.instructions.filter((i) => i.keyword === 'COPY')) {
      for (const source of copyOf(copy).sources) {
        expect(fs.existsSync(path.join(ROOT, source)), source).toBe(true);
        expect(ignored, `.dockerignore leaves out ${source}`).not.toContain(source);
      }
    }
  });

  it('copies only built output from the build stage, and runs as a user other than root', () => {
    const copies = runtime.instructions.filter((i) => i.keyword === 'COPY').map((i) => copyOf(i.args));
    const fromBuild = copies.filter((copy) => copy.from === 'build');
    const copied = fromBuild.flatMap((copy) => copy.sources.map((source) => source.replace(/^\/app\//, '')));
    expect(copied.sort()).toEqual(['bin', 'data', 'dist', 'node_modules', 'package.json']);
    for (const copy of copies.filter((c) => c.from === undefined)) {
      for (const source of copy.sources) expect(fs.existsSync(path.join(ROOT, source)), source).toBe(true);
    }
    const user = runtime.instructions.filter((i) => i.keyword === 'USER').at(-1)?.args;
    expect(user, 'a USER in the runtime stage').toBeDefined();
    expect(user!.split(':')[0]).not.toMatch(/^(root|0)$/);
  });

  it('keeps every bit of state under one volume, and no secret in ENV or ARG', () => {
    const volumes = runtime.instructions.filter((i) => i.keyword === 'VOLUME').flatMap((i) => execForm(i.args));
    expect(volumes).toEqual(['/var/lib/fogline']);
    for (const name of ['FOGLINE_DATA_DIR', 'FOGLINE_AGENT_DATA_DIR', 'FOGLINE_WORKER_CACHE_DIR']) {
      expect(runtimeEnv[name], name).toMatch(/^\/var\/lib\/fogline(\/|$)/);
    }
    for (const stage of stages) {
      for (const { keyword, args: value } of stage.instructions.filter((i) => i.keyword === 'ENV' || i.keyword === 'ARG')) {
        expect(value, `${keyword} ${value}`).not.toMatch(/TOKEN|PASSWORD|SECRET|PRIVATE|_KEY\b/i);
      }
    }
  });

  it('runs the fogline command, the control plane by default', () => {
    const entrypoint = runtime.instructions.find((i) => i.keyword === 'ENTRYPOINT');
    expect(execForm(entrypoint!.args)).toEqual(['node', '/app/bin/fogline.js']);
    expect(execForm(runtime.instructions.find((i) => i.keyword === 'CMD')!.args)).toEqual(['server']);
  });

  describe('the image layout, run from a temporary /app', () => {
    let app: string;
    let dataDir: string;
    let server: ChildProcess | undefined;
    let output = '';
    let port: number;

    /** An absolute path inside the image, mapped into the temporary /app. */
    const inApp = (file: string) => path.join(app, path.relative('/app', file));

    beforeAllOrFail(async () => {
      app = tempDir('image-app');
      dataDir = tempDir('image-data');
      // The runtime stage's COPY lines, from the repository (build output: dist/, built by the test run).
      for (const { args: copy } of runtime.instructions.filter((i) => i.keyword === 'COPY')) {
        const { from, sources, dest } = copyOf(copy);
        for (const source of sources) {
          const local = path.join(ROOT, from === 'build' ? path.relative('/app', source) : source);
          const target = dest.endsWith('/') ? path.join(inApp(dest), path.basename(source)) : inApp(dest);
          fs.mkdirSync(path.dirname(target), { recursive: true });
          if (path.basename(local) === 'node_modules') fs.symlinkSync(local, target);
          else fs.cpSync(local, target, { recursive: true });
        }
      }
      port = await freePort();
      const [, bin] = execForm(runtime.instructions.find((i) => i.keyword === 'ENTRYPOINT')!.args);
      server = spawn(process.execPath, [inApp(bin!), 'server'], {
        cwd: app,
        env: { ...process.env, ...runtimeEnv, FOGLINE_DATA_DIR: dataDir, FOGLINE_HOST: '127.0.0.1', FOGLINE_PORT: String(port) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      server.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      server.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      await eventually(async () => ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok ? true : undefined), 30_000).catch(
        (error: Error) => {
          throw new Error(`fogline server from the image layout did not start: ${error.message}\n${output}`);
        },
      );
    }, 60_000);

    afterAll(async () => {
      if (server && server.exitCode === null) {
        server.kill('SIGTERM');
        await new Promise((resolve) => server!.once('exit', resolve));
      }
      if (app) fs.rmSync(app, { recursive: true, force: true });
      if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    });

    /** The HEALTHCHECK's command, run as written (paths under /app mapped to the temporary one). */
    function runHealthcheck(env: NodeJS.ProcessEnv): { status: number | null; output: string } {
      const command = execForm(healthcheck!.args.replace(/^.*?\bCMD\s+/s, ''));
      expect(command[0]).toBe('node');
      const result = spawnSync(
        process.execPath,
        command.slice(1).map((word) => (word.startsWith('/app/') ? inApp(word) : word)),
        {
          env: { ...process.env, ...runtimeEnv, ...env },
          encoding: 'utf8',
          timeout: 15_000,
        },
      );
      return { status: result.status, output: `${result.stdout}${result.stderr}` };
    }

    it('serves the API and the dashboard from what the runtime stage copies', async () => {
      const dashboard = await fetch(`http://127.0.0.1:${port}/`);
      expect(dashboard.status).toBe(200);
      expect(await dashboard.text()).toMatch(/<html/i);
      // The vendored demo data that `fogline up` trains on is in the image.
      expect(fs.existsSync(path.join(app, 'data/energy/PJME_hourly_trimmed.csv'))).toBe(true);
      // The admin token lands in the data dir (the volume in the image).
      expect(fs.existsSync(path.join(dataDir, 'admin.token'))).toBe(true);
    });

    it('has a HEALTHCHECK whose command passes against the running server and fails where nothing answers', async () => {
      expect(healthcheck, 'a HEALTHCHECK in the runtime stage').toBeDefined();
      expect(healthcheck!.args).toMatch(/--interval=\d+s/);
      const healthy = runHealthcheck({ FOGLINE_PORT: String(port) });
      expect(healthy.status, healthy.output).toBe(0);
      const nowhere = await freePort();
      const unhealthy = runHealthcheck({ FOGLINE_PORT: String(nowhere) });
      expect(unhealthy.status).toBe(1);
      expect(unhealthy.output).toContain(`127.0.0.1:${nowhere}`);
    });
  });
});
