/**
 * deploy/compose, checked without a Docker engine (this machine has none, so the stack never runs
 * here): Debian's `docker-compose config` must accept the stack, and its MariaDB variant, with
 * .env.example and nothing else; every variable the files use is in .env.example; every service
 * has a health check; every Fogline service runs a real `fogline` command with flags that command
 * has; the health checks of the Fogline services (and nginx's, which nginx proxies to them) pass
 * against a real `fogline server` and a real enrolled `fogline agent`; nginx's configuration is
 * deploy/nginx/render.sh's output for the two replicas, and Debian's `nginx -t` accepts it with
 * tls.conf and the certificate make-secrets.sh writes (verified by openssl for the name `nginx`);
 * the replicas start with make-secrets.sh's signing key; and `promtool check config` accepts the
 * stack's Prometheus configuration.
 *
 * Not checked here: that the third-party images (nginx, postgres, mariadb, redis, prometheus,
 * grafana, node-exporter) ship the programs their health checks run (each is named below with
 * the image it comes from), and anything that needs the containers running.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { beforeAllOrFail } from '../support/before-all-or-fail.js';
import { type AgentHandle, TestCluster } from '../support/cluster.js';
import { render } from '../support/nginx.js';
import { requireBinary } from '../support/processes.js';
import { tempDir } from '../support/processes.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const COMPOSE_DIR = path.join(ROOT, 'deploy/compose');
const ENV_EXAMPLE = path.join(COMPOSE_DIR, '.env.example');
const FOGLINE_BIN = path.join(ROOT, 'bin/fogline.js');
const HEALTHCHECK_SCRIPT = path.join(ROOT, 'deploy/docker/healthcheck.mjs');
/** The stack, and its MariaDB variant (an override file). */
const VARIANTS: Record<string, string[]> = {
  postgres: ['docker-compose.yml'],
  mariadb: ['docker-compose.yml', 'docker-compose.mariadb.yml'],
};
const SERVICES = ['agent', 'db', 'fogline-1', 'fogline-2', 'grafana', 'nginx', 'node-exporter', 'prometheus', 'redis', 'worker'];

interface Service {
  image: string;
  command?: string[] | string;
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  secrets?: (string | { source: string })[];
  volumes?: (string | { type: string; source: string; target: string })[];
  networks?: Record<string, { ipv4_address?: string } | null>;
}
interface ComposeConfig {
  services: Record<string, Service>;
}

/** KEY=value lines of .env.example. */
function envExample(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of fs.readFileSync(ENV_EXAMPLE, 'utf8').split('\n')) {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match) env[match[1]!] = match[2]!;
  }
  return env;
}

/** The process environment without anything .env.example sets (compose prefers the shell's values). */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of [...Object.keys(envExample()), 'COMPOSE_FILE', 'COMPOSE_PROJECT_NAME']) delete env[name];
  return env;
}

/** YAML → JSON with the Python that runs docker-compose (Debian's docker-compose depends on python3-yaml). */
function yamlToJson(compose: string, yaml: string): unknown {
  const shebang = fs.readFileSync(compose, 'utf8').split('\n')[0]!;
  const python = /^#!\s*(\S+)/.exec(shebang)?.[1] ?? 'python3';
  const result = spawnSync(python, ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], {
    input: yaml,
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`could not read docker-compose's YAML with ${python}: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

/** `docker-compose --env-file .env.example -f … config`: its status, warnings, and the resolved configuration. */
function composeConfig(compose: string, files: string[]): { status: number | null; stderr: string; config?: ComposeConfig } {
  const args = ['--env-file', ENV_EXAMPLE, ...files.flatMap((file) => ['-f', file]), 'config'];
  const result = spawnSync(compose, args, { cwd: COMPOSE_DIR, env: cleanEnv(), encoding: 'utf8' });
  if (result.status !== 0) return { status: result.status, stderr: result.stderr };
  return { status: 0, stderr: result.stderr, config: yamlToJson(compose, result.stdout) as ComposeConfig };
}

const helps = new Map<string, { status: number | null; text: string }>();
/** `fogline <command> --help` (once per command). */
function cliHelp(command: string): { status: number | null; text: string } {
  if (!helps.has(command)) {
    const result = spawnSync(process.execPath, [FOGLINE_BIN, command, '--help'], { encoding: 'utf8' });
    helps.set(command, { status: result.status, text: result.stdout });
  }
  return helps.get(command)!;
}

/** Runs a copy of make-secrets.sh in `dir` (it writes beside itself); the secrets folder it filled. */
function makeSecrets(dir: string): string {
  const script = path.join(dir, 'make-secrets.sh');
  fs.copyFileSync(path.join(COMPOSE_DIR, 'make-secrets.sh'), script);
  const made = spawnSync('sh', [script, 'fogline.example.com'], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`make-secrets.sh failed: ${made.stdout}${made.stderr}`);
  return path.join(dir, 'secrets');
}

const asList = (command: Service['command']) => (Array.isArray(command) ? command : (command ?? '').split(/\s+/).filter(Boolean));
const secretNames = (service: Service) => (service.secrets ?? []).map((secret) => (typeof secret === 'string' ? secret : secret.source));

describe('deploy/compose', () => {
  const compose = requireBinary('docker-compose');
  const env = envExample();
  const configs: Record<string, ComposeConfig> = {};
  for (const [variant, files] of Object.entries(VARIANTS)) {
    const result = composeConfig(compose, files);
    if (result.config) configs[variant] = result.config;
    it(`docker-compose config accepts the ${variant} stack with .env.example, without warnings`, () => {
      expect(result.status, result.stderr).toBe(0);
      expect(result.stderr).not.toMatch(/WARNING|variable is not set/i);
      expect(Object.keys(result.config!.services).sort()).toEqual(SERVICES);
    });
  }

  it('.env.example sets every variable the compose files use, and each one it sets is used', () => {
    const used = new Set<string>();
    for (const file of new Set(Object.values(VARIANTS).flat())) {
      const text = fs.readFileSync(path.join(COMPOSE_DIR, file), 'utf8');
      for (const match of text.matchAll(/\$\{([A-Z0-9_]+)[^}]*\}/g)) used.add(match[1]!);
    }
    expect([...used].sort()).toEqual(Object.keys(env).sort());
    // No real secret ships: every password in the example says to change it.
    for (const [name, value] of Object.entries(env).filter(([key]) => /PASSWORD|TOKEN$/.test(key))) {
      expect(value, name).toMatch(/change-me|create-with/);
    }
  });

  it('gives every service a health check', () => {
    for (const [variant, config] of Object.entries(configs)) {
      for (const [name, service] of Object.entries(config.services)) {
        const test = service.healthcheck?.test;
        expect(Array.isArray(test) && test[0] === 'CMD' && test.length > 1, `${variant}: ${name}'s healthcheck`).toBe(true);
      }
    }
  });

  it('runs only real fogline commands with flags those commands have', () => {
    for (const [variant, config] of Object.entries(configs)) {
      const fogline = Object.entries(config.services).filter(([, service]) => service.image === env.FOGLINE_IMAGE);
      expect(fogline.map(([name]) => name).sort()).toEqual(['agent', 'fogline-1', 'fogline-2', 'worker']);
      for (const [name, service] of fogline) {
        const [command, ...rest] = asList(service.command);
        const help = cliHelp(command!);
        expect(help.status, `${variant}: ${name} runs \`fogline ${command}\``).toBe(0);
        for (const flag of rest.filter((word) => word.startsWith('--'))) {
          expect(help.text, `${variant}: ${name}: fogline ${command} ${flag}`).toMatch(new RegExp(`^\\s+${flag}[ ,]`, 'm'));
        }
        // A file under /run/secrets is one of the service's own compose secrets.
        for (const word of [...rest, ...Object.values(service.environment ?? {})]) {
          const secret = /^\/run\/secrets\/(.+)$/.exec(word)?.[1];
          if (secret) expect(secretNames(service), `${variant}: ${name} reads ${word}`).toContain(secret);
        }
      }
    }
  });

  it('runs the control plane as replicas that share the database, Redis, the artifacts and the signing key, behind nginx', () => {
    for (const [variant, config] of Object.entries(configs)) {
      const nginxAddress = Object.values(config.services.nginx!.networks ?? {})[0]?.ipv4_address;
      expect(nginxAddress).toBe(env.NGINX_ADDRESS);
      const commands = ['fogline-1', 'fogline-2'].map((name) => asList(config.services[name]!.command));
      expect(commands[0]).toEqual(commands[1]);
      const option = (flag: string) => commands[0]![commands[0]!.indexOf(flag) + 1];
      expect(option('--db')).toMatch(
        variant === 'mariadb' ? /^mysql:\/\/fogline:[^@]+@db:3306\/fogline$/ : /^postgres:\/\/fogline:[^@]+@db:5432\/fogline$/,
      );
      expect(option('--redis')).toMatch(/^redis:\/\/:[^@]+@redis:6379$/);
      expect(option('--artifact-store')).toBe('database');
      expect(option('--signing-key-file')).toMatch(/^\/run\/secrets\//);
      expect(option('--run-concurrency')).toBe('0');
      expect(option('--trust-proxy')).toBe(nginxAddress);
      expect(option('--host')).toBe('0.0.0.0');
      // The worker uses the same Redis, through nginx over TLS.
      const worker = asList(config.services.worker!.command);
      expect(worker[worker.indexOf('--redis') + 1]).toBe(option('--redis'));
      expect(worker[worker.indexOf('--server') + 1]).toBe('https://nginx');
      // The image these need is the database's: postgres or mariadb.
      expect(config.services.db!.image).toMatch(variant === 'mariadb' ? /^mariadb:/ : /^postgres:/);
    }
  });

  it('mounts files that exist, and the nginx configuration is render.sh output for the two replicas', () => {
    for (const config of Object.values(configs)) {
      for (const [name, service] of Object.entries(config.services)) {
        for (const volume of service.volumes ?? []) {
          const source = typeof volume === 'string' ? volume.split(':')[0]! : volume.type === 'bind' ? volume.source : '';
          if (source.startsWith('/') && source !== '/') expect(fs.existsSync(source), `${name} mounts ${source}`).toBe(true);
        }
      }
    }
    const rendered = render(['--listen', '443 ssl', 'fogline-1:7070', 'fogline-2:7070']);
    expect(rendered.status, rendered.stderr).toBe(0);
    expect(fs.readFileSync(path.join(COMPOSE_DIR, 'nginx/fogline.conf'), 'utf8')).toBe(rendered.stdout);
  });

  it('gives Prometheus a configuration promtool accepts, scraping both replicas, the agents and node-exporter', () => {
    const promtool = requireBinary('promtool');
    const secrets = tempDir('compose-prometheus');
    try {
      const text = fs.readFileSync(path.join(COMPOSE_DIR, 'prometheus/prometheus.yml'), 'utf8');
      for (const match of text.matchAll(/\/run\/secrets\/(\w+)/g)) fs.writeFileSync(path.join(secrets, match[1]!), 'fgl.example\n');
      const file = path.join(secrets, 'prometheus.yml');
      fs.writeFileSync(file, text.replaceAll('/run/secrets/', `${secrets}/`));
      const checked = spawnSync(promtool, ['check', 'config', '--syntax-only', file], { encoding: 'utf8' });
      expect(checked.status, `${checked.stdout}${checked.stderr}`).toBe(0);
      for (const target of ['fogline-1:7070', 'fogline-2:7070', 'node-exporter:9100', 'fogline-1:7070/api/v1/discovery/prometheus']) {
        expect(text).toContain(target);
      }
    } finally {
      fs.rmSync(secrets, { recursive: true, force: true });
    }
  });

  it("make-secrets.sh writes a CA, nginx's certificate for https://nginx, and a signing key; nginx -t accepts the TLS site", () => {
    const nginx = requireBinary('nginx');
    requireBinary('openssl');
    const dir = tempDir('compose-nginx');
    try {
      const secrets = makeSecrets(dir);
      const verified = spawnSync(
        'openssl',
        ['verify', '-CAfile', path.join(secrets, 'ca.crt'), '-verify_hostname', 'nginx', path.join(secrets, 'tls.crt')],
        {
          encoding: 'utf8',
        },
      );
      expect(verified.status, `${verified.stdout}${verified.stderr}`).toBe(0);
      // The replicas' host names resolve only inside the stack: loopback stands in for them.
      const site = fs.readFileSync(path.join(COMPOSE_DIR, 'nginx/fogline.conf'), 'utf8').replace(/fogline-[12]:7070/g, '127.0.0.1:7070');
      const tls = fs
        .readFileSync(path.join(COMPOSE_DIR, 'nginx/tls.conf'), 'utf8')
        .replace('/run/secrets/fogline_tls_cert', path.join(secrets, 'tls.crt'))
        .replace('/run/secrets/fogline_tls_key', path.join(secrets, 'tls.key'));
      fs.writeFileSync(path.join(dir, 'site.conf'), site);
      fs.writeFileSync(path.join(dir, 'tls.conf'), tls);
      const config = path.join(dir, 'nginx.conf');
      fs.writeFileSync(
        config,
        [
          `pid ${path.join(dir, 'nginx.pid')};`,
          'error_log stderr;',
          'events {}',
          `http { include ${path.join(dir, 'tls.conf')}; include ${path.join(dir, 'site.conf')}; }`,
          '',
        ].join('\n'),
      );
      const tested = spawnSync(nginx, ['-t', '-c', config, '-p', `${dir}/`], { encoding: 'utf8' });
      expect(tested.status, `${tested.stdout}${tested.stderr}`).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('health checks against a real control plane and agent', () => {
    let cluster: TestCluster | undefined;
    let agent: AgentHandle;
    let secretsDir: string | undefined;

    beforeAllOrFail(async () => {
      // The replicas' --signing-key-file: the key make-secrets.sh writes.
      secretsDir = tempDir('compose-secrets');
      const key = path.join(makeSecrets(secretsDir), 'signing-key.pem');
      cluster = await TestCluster.start('compose', ['--signing-key-file', key]);
      agent = await cluster.startAgent('compose-agent', { joinToken: await cluster.joinToken(1) });
    }, 60_000);

    afterAll(async () => {
      await cluster?.stop();
      if (secretsDir) fs.rmSync(secretsDir, { recursive: true, force: true });
    });

    /** Runs `node /app/healthcheck.mjs <url>` (the image's script) with the URL's origin replaced. */
    function runHealthcheck(test: string[], origin: string): { status: number | null; output: string; url: string } {
      expect(test.slice(0, 3)).toEqual(['CMD', 'node', '/app/healthcheck.mjs']);
      const url = new URL(test[3]!);
      const local = `${origin}${url.pathname}`;
      const result = spawnSync(process.execPath, [HEALTHCHECK_SCRIPT, local], { encoding: 'utf8', timeout: 15_000 });
      return { status: result.status, output: `${result.stdout}${result.stderr}`, url: local };
    }

    it('passes for the replicas, the worker and the agent; nginx probes a path the replicas answer', async () => {
      for (const [variant, config] of Object.entries(configs)) {
        for (const [name, origin] of [
          ['fogline-1', cluster!.url],
          ['fogline-2', cluster!.url],
          ['worker', cluster!.url],
          ['agent', agent.url],
        ] as const) {
          const checked = runHealthcheck(config.services[name]!.healthcheck!.test, origin);
          expect(checked.status, `${variant}: ${name}: ${checked.url}: ${checked.output}`).toBe(0);
        }
        // The worker probes the control plane it trains for, at the address its --server names.
        const worker = config.services.worker!;
        expect(new URL(worker.healthcheck!.test[3]!).origin).toBe(new URL(asList(worker.command)[2]!).origin);
        // nginx's (curl, in the nginx image) goes through the proxy to a replica's route.
        const nginx = config.services.nginx!.healthcheck!.test;
        expect(nginx[1]).toBe('curl');
        const proxied = new URL(nginx.at(-1)!);
        expect((await fetch(`${cluster!.url}${proxied.pathname}`)).status).toBe(200);
      }
    });

    it('fails where nothing answers', () => {
      const checked = runHealthcheck(['CMD', 'node', '/app/healthcheck.mjs', 'http://127.0.0.1:7071/healthz'], 'http://127.0.0.1:9');
      expect(checked.status).toBe(1);
    });
  });
});
