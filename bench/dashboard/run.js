#!/usr/bin/env node
// Dashboard benchmark: how fast the web dashboard opens with a large fleet. Starts a real
// `fogline server` on loopback, enrols N nodes that heartbeat every 15 s (as agents do), then
// times in Debian's Chromium (playwright-core): the first load of /ui/ (cold cache, token already
// in the tab) until the overview shows the online count, the nodes page from there until every row
// is drawn, and a cold load straight onto the nodes page. Prints medians over --runs runs each.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
/* global document -- functions passed to page.waitForFunction and addInitScript run in the browser */
import { chromium } from 'playwright-core';
import { startServer } from '../fleet/lib/server.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const CHROMIUM = process.env.FOGLINE_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-extensions',
];

const HELP = `Usage: npm run bench:dashboard -- [options]   (or: node bench/dashboard/run.js [options])

  --nodes <n>      registered nodes, heartbeating every 15 s   (default 1000)
  --runs <n>       timed page loads of each kind              (default 7)
  --goal-ms <ms>   goal for each median                       (default 1000)
  --keep           keep the temp data dir
  -h, --help       this text

Needs a build (npm run build) and Chromium at ${CHROMIUM} (apt-get install chromium).
`;

const { values: options } = parseArgs({
  options: {
    nodes: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '7' },
    'goal-ms': { type: 'string', default: '1000' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (options.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const NODES = Number(options.nodes);
const RUNS = Number(options.runs);
const GOAL_MS = Number(options['goal-ms']);

const HEARTBEAT = (i) => ({
  resources: {
    cpuCount: 4,
    loadAverage: [(i % 40) / 10, 1, 0.5],
    memoryTotalBytes: 8 * 2 ** 30,
    memoryFreeBytes: ((i % 7) + 1) * 2 ** 29,
    diskTotalBytes: 64 * 2 ** 30,
    diskFreeBytes: 32 * 2 ** 30,
    gpus: [],
  },
  agent: { version: '0.1.0', os: 'linux', arch: 'arm64', hostname: `host-${i}`, inferenceUrl: `http://10.0.${i >> 8}.${i & 255}:7071` },
});

function fail(message) {
  process.stderr.write(`bench:dashboard: ${message}\n`);
  process.exit(1);
}

async function call(url, method, token, body) {
  const response = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

async function inParallel(count, limit, task) {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const fmt = (ms) => `${Math.round(ms)} ms`;

async function main() {
  if (!fs.existsSync(CHROMIUM)) fail(`Chromium is missing at ${CHROMIUM}: apt-get install -y chromium (or FOGLINE_CHROMIUM=<path>)`);
  const dist = path.join(ROOT, 'dist', 'dashboard', 'index.html');
  if (!fs.existsSync(dist)) fail(`${dist} is missing: run npm run build`);

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fogline-bench-dashboard-'));
  // The fleet bench's control plane: SQLite in the temp dir, 15 s heartbeats, no enrolment rate limit
  // (the whole simulated fleet enrols from one address).
  const server = await startServer({ dataDir, dbUrl: `sqlite:${path.join(dataDir, 'fogline.db')}`, intervalSeconds: 15 });
  const { url, adminToken: admin } = server;
  let heartbeats;
  let stopped = false;
  let browser;
  try {
    const join = (await call(`${url}/api/v1/tokens`, 'POST', admin, { name: 'bench join', role: 'join', maxUses: NODES })).token;
    const started = Date.now();
    const nodes = new Array(NODES);
    await inParallel(NODES, 32, async (i) => {
      const name = `edge-${String(i).padStart(4, '0')}`;
      nodes[i] = await call(`${url}/api/v1/nodes/enroll`, 'POST', join, {
        name,
        role: i % 50 === 0 ? 'cloud' : 'edge',
        labels: { site: `plant-${i % 20}`, zone: i % 2 ? 'north' : 'south' },
      });
    });
    await inParallel(NODES, 32, (i) => call(`${url}/api/v1/nodes/${nodes[i].nodeId}/heartbeat`, 'POST', nodes[i].credential, HEARTBEAT(i)));
    process.stdout.write(`enrolled ${NODES} nodes and sent their first heartbeats in ${fmt(Date.now() - started)}\n`);

    // Heartbeats keep coming while the pages load: every node every 15 s, spread evenly.
    heartbeats = (async () => {
      for (let i = 0; !stopped; i = (i + 1) % NODES) {
        const node = nodes[i];
        await call(`${url}/api/v1/nodes/${node.nodeId}/heartbeat`, 'POST', node.credential, HEARTBEAT(i)).catch(() => undefined);
        await sleep(15_000 / NODES);
      }
    })();

    // What the browser downloads and what the nodes call returns, for context.
    const html = await (await fetch(`${url}/ui/`)).text();
    let assetBytes = 0;
    let assetGzip = 0;
    for (const asset of html.matchAll(/(?:src|href)="(\/ui\/assets\/[^"]+)"/g)) {
      const body = Buffer.from(await (await fetch(`${url}${asset[1]}`)).arrayBuffer());
      assetBytes += body.length;
      assetGzip += gzipSync(body).length;
    }
    const apiTimes = [];
    let apiBytes = 0;
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const response = await fetch(`${url}/api/v1/nodes`, { headers: { authorization: `Bearer ${admin}` } });
      apiBytes = (await response.arrayBuffer()).byteLength;
      apiTimes.push(performance.now() - t0);
    }

    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    const firstLoad = [];
    const nodesPage = [];
    const nodesCold = [];
    const online = [];
    const rowsSeen = [];
    for (let run = 0; run < RUNS; run++) {
      // A fresh context each time: empty cache, the token already in the tab's session storage.
      const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
      await context.addInitScript((token) => sessionStorage.setItem('fogline.token', token), admin);
      const page = await context.newPage();
      let t0 = performance.now();
      await page.goto(`${url}/ui/`, { waitUntil: 'commit' });
      await page.waitForFunction(() => /^\d+$/.test(document.querySelector('[data-testid="nodes-online"]')?.textContent ?? ''), null, {
        polling: 'raf',
        timeout: 30_000,
      });
      firstLoad.push(performance.now() - t0);
      online.push(Number(await page.getByTestId('nodes-online').textContent()));

      t0 = performance.now();
      await page.getByRole('link', { name: 'Nodes', exact: true }).click();
      await page.waitForFunction((n) => document.querySelectorAll('[data-testid="node-table"] tbody tr').length === n, NODES, {
        polling: 'raf',
        timeout: 30_000,
      });
      nodesPage.push(performance.now() - t0);
      await context.close();

      const cold = await browser.newContext({ viewport: { width: 1366, height: 768 } });
      await cold.addInitScript((token) => sessionStorage.setItem('fogline.token', token), admin);
      const coldPage = await cold.newPage();
      t0 = performance.now();
      await coldPage.goto(`${url}/ui/#/nodes`, { waitUntil: 'commit' });
      await coldPage.waitForFunction((n) => document.querySelectorAll('[data-testid="node-table"] tbody tr').length === n, NODES, {
        polling: 'raf',
        timeout: 30_000,
      });
      nodesCold.push(performance.now() - t0);
      rowsSeen.push(await coldPage.locator('[data-testid="node-table"] tbody tr').count());
      await cold.close();
    }
    stopped = true;
    await heartbeats;

    const rows = [
      ['first load of /ui/ (cold cache) until the overview shows the online count', firstLoad],
      ['overview -> nodes page until all rows are drawn', nodesPage],
      ['cold load of /ui/#/nodes until all rows are drawn', nodesCold],
    ];
    process.stdout.write(`\nDashboard with ${NODES} registered nodes on loopback, Chromium ${browser.version()}, ${RUNS} runs each\n`);
    process.stdout.write(
      `  assets: ${(assetBytes / 1024).toFixed(0)} KiB (${(assetGzip / 1024).toFixed(0)} KiB gzip); GET /api/v1/nodes: ${(apiBytes / 1024).toFixed(0)} KiB in ${fmt(median(apiTimes))} (median)\n`,
    );
    process.stdout.write(`  overview showed ${median(online)} nodes online; the nodes table drew ${median(rowsSeen)} rows\n\n`);
    let ok = true;
    for (const [label, values] of rows) {
      const m = median(values);
      ok &&= m < GOAL_MS;
      process.stdout.write(
        `  ${label.padEnd(76)} median ${fmt(m).padStart(7)}  min ${fmt(Math.min(...values)).padStart(7)}  max ${fmt(Math.max(...values)).padStart(7)}  ${m < GOAL_MS ? 'under' : 'OVER'} ${GOAL_MS} ms\n`,
      );
    }
    process.stdout.write(`\n${ok ? 'goal met' : 'goal missed'}: every median under ${GOAL_MS} ms\n`);
    process.exitCode = ok ? 0 : 1;
  } finally {
    stopped = true;
    await heartbeats;
    await browser?.close();
    await server.stop();
    if (!options.keep) fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error) => fail(error.stack ?? String(error)));
