// Starts and stops the real control plane (`node bin/fogline.js server`) as a child process,
// and creates/drops the throwaway PostgreSQL or MariaDB database a scenario runs against.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const FOGLINE_BIN = path.join(REPO_ROOT, 'bin', 'fogline.js');

/** Never copy a token (the server prints the admin token once) into logs or results. */
export function redact(text) {
  return text.replace(/fgl\.[0-9a-f]{16}\.[A-Za-z0-9_-]+/g, 'fgl.<redacted>');
}

/** Only loopback database servers: the bench never reaches beyond this machine. */
function assertLoopback(url) {
  const host = new URL(url).hostname;
  if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host)) {
    throw new Error(`The bench only talks to loopback addresses, not ${host}`);
  }
}

/**
 * A throwaway database for one scenario: returns { url, drop } where url is what the server's
 * --db gets. SQLite lives in the scenario's temp data dir and needs no dropping.
 */
export async function createDatabase(dialect, { dataDir, pgUrl, mysqlUrl, tag }) {
  const name = `fogline_bench_${tag}`.replace(/[^a-z0-9_]/g, '_').slice(0, 60);
  if (dialect === 'sqlite') {
    return { url: `sqlite:${path.join(dataDir, 'fogline.db')}`, name: null, drop: async () => {} };
  }
  if (dialect === 'postgres') {
    assertLoopback(pgUrl);
    const { default: pg } = await import('pg');
    const admin = () => new pg.Client({ connectionString: `${pgUrl.replace(/\/+$/, '')}/postgres` });
    const client = admin();
    await client.connect();
    try {
      await client.query(`DROP DATABASE IF EXISTS ${name}`);
      await client.query(`CREATE DATABASE ${name}`);
    } finally {
      await client.end();
    }
    return {
      url: `${pgUrl.replace(/\/+$/, '')}/${name}`,
      name,
      drop: async () => {
        const dropper = admin();
        await dropper.connect();
        try {
          await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        } finally {
          await dropper.end();
        }
      },
    };
  }
  if (dialect === 'mysql') {
    assertLoopback(mysqlUrl);
    const mysql = await import('mysql2/promise');
    const connect = () => mysql.createConnection({ uri: mysqlUrl.replace(/\/+$/, '') });
    const connection = await connect();
    try {
      await connection.query(`DROP DATABASE IF EXISTS ${name}`);
      await connection.query(`CREATE DATABASE ${name}`);
    } finally {
      await connection.end();
    }
    return {
      url: `${mysqlUrl.replace(/\/+$/, '')}/${name}`,
      name,
      drop: async () => {
        const dropper = await connect();
        try {
          await dropper.query(`DROP DATABASE IF EXISTS ${name}`);
        } finally {
          await dropper.end();
        }
      },
    };
  }
  throw new Error(`Unknown dialect ${dialect}: use sqlite, postgres or mysql`);
}

/**
 * The `fogline server` arguments every bench uses (after bin/fogline.js): loopback, `port` (0: the
 * kernel picks one), quiet logs, node timeout of three intervals, no enrolment rate limit (the
 * whole simulated fleet enrols from one address), then `extraArgs` (e.g. --redis for replicas).
 */
export function serverArgs({ dataDir, dbUrl, intervalSeconds = 15, port = 0, extraArgs = [] }) {
  return [
    'server',
    '--data-dir',
    dataDir,
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--db',
    dbUrl,
    '--heartbeat-interval',
    String(intervalSeconds),
    '--node-timeout',
    String(intervalSeconds * 3),
    '--log-level',
    'warn',
    // The whole simulated fleet enrols from one address.
    '--enrol-rate-limit',
    '0',
    ...extraArgs,
  ];
}

/**
 * Spawns the control plane (see serverArgs) and waits until this pid has written server.json.
 * Returns { child, pid, url, adminToken, lifetime, stop, unexpectedExit, output }. `adminToken` is
 * null when the data dir has none: only the server that bootstrapped an empty database writes
 * admin.token (a second replica on the same database does not).
 */
export async function startServer({
  dataDir,
  dbUrl,
  intervalSeconds,
  port = 0,
  extraArgs = [],
  nodeArgs = [],
  startTimeoutMs = 60_000,
  label = 'the control plane',
  outputBytes = 8192,
}) {
  const args = [...nodeArgs, FOGLINE_BIN, ...serverArgs({ dataDir, dbUrl, intervalSeconds, port, extraArgs })];
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  // Keep the last few KiB of output for error messages; never let the pipes fill up.
  let output = '';
  const keep = (chunk) => {
    output = (output + chunk.toString()).slice(-outputBytes);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const lifetime = trackChild(child);

  const infoFile = path.join(dataDir, 'server.json');
  const tokenFile = path.join(dataDir, 'admin.token');
  const deadline = Date.now() + startTimeoutMs;
  let info;
  while (!info) {
    if (lifetime.exited) throw new Error(`${label} exited (${JSON.stringify(lifetime.exited)}) before listening:\n${redact(output)}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${label} did not start within ${startTimeoutMs} ms:\n${redact(output)}`);
    }
    try {
      const parsed = JSON.parse(fs.readFileSync(infoFile, 'utf8'));
      if (parsed.pid === child.pid) info = parsed;
    } catch {
      // not written yet
    }
    if (!info) await sleep(100);
  }
  let adminToken = null;
  try {
    adminToken = fs.readFileSync(tokenFile, 'utf8').trim();
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
  }

  const stop = (graceMs = 15_000) => lifetime.stop(graceMs);
  /** Set when the server went away without stop() (crashed, or something else signalled it). */
  const unexpectedExit = () =>
    lifetime.unexpectedExit()
      ? `${label} (pid ${child.pid}) exited during the run (code ${lifetime.exited.code}, signal ${lifetime.exited.signal}); ` +
        `its last output: ${redact(output).trim().split('\n').slice(-3).join(' | ') || '(none)'}`
      : undefined;
  return { child, pid: child.pid, url: info.url, adminToken, lifetime, stop, unexpectedExit, output: () => output };
}

/**
 * Follows a child process's exit: `stop` sends SIGTERM, then SIGKILL after `graceMs`;
 * `unexpectedExit` is true when it went away without `stop` (crashed, or signalled by someone else).
 */
export function trackChild(child) {
  const state = { exited: null, stopping: false };
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      state.exited = { code, signal };
      resolve(state.exited);
    });
  });
  return {
    get exited() {
      return state.exited;
    },
    exitPromise,
    unexpectedExit: () => Boolean(state.exited && !state.stopping),
    async stop(graceMs) {
      state.stopping = true;
      if (state.exited) return state.exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exitPromise;
      clearTimeout(timer);
      return result;
    },
  };
}
