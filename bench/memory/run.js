#!/usr/bin/env node
// bench/memory: where a serving agent's memory goes. A control plane and two `fogline agent`
// processes on loopback, one plain (its VmRSS is the figure) and one with bench/memory/probe.js
// (`--import`: what it loaded, V8's heap, resident memory by mapping; the probe's own module hook
// costs a few MiB, so its RSS is not the figure). Three small forecaster versions are trained,
// `energy@champion` is deployed to both; samples are taken when the agents have started (nothing
// deployed), once they serve, and after --seconds of paced load with the alias moving every
// --move-every s (hot swaps). With --snapshots DIR the probed agent writes a V8 heap snapshot there at each.
//
//   npm run build && npm run bench:memory -- [--seconds 60] [--rate 50] [--move-every 10] [--runtime onnx] [--node-args='--max-semi-space-size=2'] [--snapshots DIR] [--out bench/memory/results/latest.json]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { processRssBytes } from '../fleet/lib/proc-stats.js';
import { fmt, renderTable, round } from '../fleet/lib/stats.js';
import { forecastRequest, inferVersion, machineFacts, sleep, startCluster, trainForecaster, uploadPjme, waitFor } from '../lib/cluster.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    rate: { type: 'string', default: '50' },
    'move-every': { type: 'string', default: '10' },
    runtime: { type: 'string', default: 'onnx' },
    snapshots: { type: 'string' },
    'node-args': { type: 'string', default: '' },
    out: { type: 'string', default: path.join(HERE, 'results/latest.json') },
  },
});
const WINDOW = 168;
const MiB = 1024 * 1024;
const log = (message) => console.log(`[memory] ${message}`);

const loadBefore = os.loadavg();
const cluster = await startCluster({ tag: 'memory', intervalSeconds: 15 });
const probeOut = path.join(cluster.dataDir, 'probe');
try {
  log('training 3 forecaster versions (window 168, hidden [32], 1 epoch) …');
  await uploadPjme(cluster.api);
  const versions = [];
  for (const seed of [1, 2, 3]) {
    versions.push(await trainForecaster(cluster.apiJson, { params: { window: WINDOW, epochs: 1, hidden: [32], seed } }));
  }
  await cluster.api('PUT', '/api/v1/models/energy/aliases/champion', { version: versions[0] });
  const joinToken = await cluster.joinToken(2);
  const nodeArgs = flags['node-args'].split(' ').filter(Boolean);
  const common = { labels: 'bench=memory', joinToken, extraArgs: ['--runtime', flags.runtime] };
  const plain = await cluster.startAgent({ ...common, name: 'memory-plain', nodeArgs });
  const probed = await cluster.startAgent({
    ...common,
    name: 'memory-probed',
    nodeArgs: [...nodeArgs, '--import', path.join(HERE, 'probe.js')],
    env: {
      FOGLINE_MEMORY_PROBE_OUT: probeOut,
      ...(flags.snapshots ? { FOGLINE_MEMORY_PROBE_SNAPSHOTS: path.resolve(flags.snapshots) } : {}),
    },
  });
  const phases = [];
  const sample = async (phase) => {
    await sleep(2000);
    const before = fs.readdirSync(cluster.dataDir).filter((f) => f.startsWith('probe.') && f.endsWith('.json')).length;
    process.kill(probed.pid, 'SIGUSR2');
    const file = `${probeOut}.${before}.json`;
    await waitFor(() => fs.existsSync(file) && fs.statSync(file).size > 0, { what: 'the probe report', timeoutMs: 120_000 });
    await sleep(200);
    const report = JSON.parse(fs.readFileSync(file, 'utf8'));
    phases.push({
      phase,
      plainRssMiB: round(processRssBytes(plain.pid) / MiB, 1),
      mappings: mappings(plain.pid),
      threads: fs.readdirSync(`/proc/${plain.pid}/task`).length,
      report,
    });
    log(`${phase}: plain agent RSS ${fmt(phases.at(-1).plainRssMiB, 1)} MiB`);
  };
  await sample('started');

  await cluster.api('POST', '/api/v1/deployments', {
    name: 'energy',
    model: 'energy@champion',
    nodeSelector: { bench: 'memory' },
    strategy: 'all',
  });
  const { body } = await forecastRequest(WINDOW);
  const urls = [plain, probed].map((a) => `${a.url}/v2/models/energy/infer`);
  for (const url of urls) await waitFor(async () => (await inferVersion(url, body)) === String(versions[0]), { what: `${url} to serve` });
  await sample('serving');

  log(`${flags.rate} requests/s per agent for ${flags.seconds} s, alias move every ${flags['move-every']} s …`);
  const end = performance.now() + Number(flags.seconds) * 1000;
  let requests = 0;
  const pace = async (url) => {
    let next = performance.now();
    const open = new Set();
    while (performance.now() < end) {
      next += 1000 / Number(flags.rate);
      await sleep(Math.max(0, next - performance.now()));
      if (open.size >= 4) continue;
      const request = inferVersion(url, body).then(() => (requests += 1));
      open.add(request);
      void request.finally(() => open.delete(request));
    }
    await Promise.all([...open]);
  };
  const load = Promise.all(urls.map(pace));
  for (let move = 1; performance.now() + Number(flags['move-every']) * 1000 <= end; move++) {
    await sleep(Number(flags['move-every']) * 1000);
    await cluster.api('PUT', '/api/v1/models/energy/aliases/champion', { version: versions[move % versions.length] });
  }
  await load;
  await sample(`after ${flags.seconds} s of load`);
  log(`${requests} requests answered`);

  const rows = phases.map(({ phase, plainRssMiB, mappings, threads, report }) => {
    const m = report.memoryUsage;
    const resident = (match) => fmt(mappings.reduce((sum, x) => (match(x.name) ? sum + x.rssKiB : sum), 0) / 1024, 1);
    const native = (name) => name.endsWith('.node') || /\.so(\.\d+)*$/.test(name);
    return [
      phase,
      fmt(plainRssMiB, 1),
      ...[m.heapTotal, m.heapUsed, m.external, m.arrayBuffers].map((bytes) => fmt(bytes / MiB, 1)),
      resident((n) => n.endsWith('/node') || n.endsWith('/nodejs')),
      resident((n) => native(n) && /onnxruntime/.test(n)),
      resident((n) => native(n) && !/onnxruntime/.test(n)),
      resident((n) => n === '[heap]'),
      resident((n) => n === 'anonymous'),
      String(threads),
      String(report.modules.length),
    ];
  });
  const header = ['phase', 'RSS MiB', 'V8 heap total', 'heap used', 'external', 'arrayBuffers', 'node binary', 'onnxruntime .so'];
  console.log(renderTable([...header, 'other .so', 'malloc [heap]', 'anonymous', 'threads', 'modules'], rows));
  const last = phases.at(-1).report;
  const byPackage = {};
  for (const url of last.modules) {
    const file = url.startsWith('file://') ? fileURLToPath(url) : url;
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
    const key = match
      ? match[1]
      : file.includes('/dist/')
        ? `dist/${file.split('/dist/')[1].split('/')[0]}`
        : file.startsWith('node:')
          ? 'node:'
          : 'other';
    let bytes = 0;
    try {
      bytes = file.startsWith('/') ? fs.statSync(file).size : 0;
    } catch {
      // a built-in or a data: URL
    }
    byPackage[key] ??= { modules: 0, bytes: 0 };
    byPackage[key].modules += 1;
    byPackage[key].bytes += bytes;
  }
  const packages = Object.entries(byPackage).sort((a, b) => b[1].bytes - a[1].bytes);
  console.log(
    renderTable(
      ['loaded from', 'modules', 'source KiB'],
      packages.map(([k, v]) => [k, String(v.modules), fmt(v.bytes / 1024, 0)]),
    ),
  );
  fs.mkdirSync(path.dirname(flags.out), { recursive: true });
  fs.writeFileSync(
    flags.out,
    `${JSON.stringify({ flags, machine: machineFacts(loadBefore), phases: phases.map((p) => ({ ...p, mappings: p.mappings.filter((x) => x.rssKiB >= 256), report: { ...p.report, modules: p.report.modules.length } })), packages: Object.fromEntries(packages), modules: last.modules }, null, 1)}\n`,
  );
  log(`results in ${path.relative(process.cwd(), flags.out)}`);
} finally {
  await cluster.cleanup();
}

/** The process's mappings (/proc/<pid>/smaps): name (a file, [heap], [stack] or anonymous), permissions, size and resident KiB. */
function mappings(pid) {
  const list = [];
  for (const line of fs.readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const header = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header) {
      const sizeKiB = (parseInt(header[2], 16) - parseInt(header[1], 16)) / 1024;
      list.push({ name: header[4] || 'anonymous', perms: header[3], sizeKiB, rssKiB: 0 });
    } else if (line.startsWith('Rss:')) list.at(-1).rssKiB = Number(line.split(/\s+/)[1]);
  }
  return list;
}
