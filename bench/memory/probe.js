// Loaded into a `fogline agent` with `node --import ./bench/memory/probe.js` by bench/memory/run.js
// (never in production). Records every module the process loads (ESM through a module.register
// resolve hook, CommonJS through require.cache) and, on SIGUSR2, writes a report beside
// FOGLINE_MEMORY_PROBE_OUT: process.memoryUsage(), V8's heap spaces and the modules. (Resident
// memory by mapping is read by run.js from the plain agent: this hook's loader thread adds its own.)
import fs from 'node:fs';
import { createRequire, register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
import v8 from 'node:v8';

const out = process.env.FOGLINE_MEMORY_PROBE_OUT;
const modules = new Set();
const { port1, port2 } = new MessageChannel();
port1.on('message', (url) => modules.add(url));
port1.unref();
const hook = `
let port;
export function initialize(data) { port = data.port; }
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  port.postMessage(resolved.url);
  return resolved;
}`;
register(`data:text/javascript,${encodeURIComponent(hook)}`, { data: { port: port2 }, transferList: [port2] });

const require = createRequire(import.meta.url);
let count = 0;
process.on('SIGUSR2', () => {
  const file = `${out}.${count++}.json`;
  const memory = process.memoryUsage();
  const report = {
    pid: process.pid,
    memoryUsage: memory,
    heapSpaces: v8.getHeapSpaceStatistics().map((s) => ({ name: s.space_name, used: s.space_used_size, size: s.space_size })),
    modules: [...new Set([...modules, ...Object.keys(require.cache).map((f) => `file://${f}`)])],
  };
  const snapshots = process.env.FOGLINE_MEMORY_PROBE_SNAPSHOTS;
  if (snapshots) report.snapshot = v8.writeHeapSnapshot(`${snapshots}/agent-${count - 1}.heapsnapshot`);
  fs.writeFileSync(file, JSON.stringify(report));
});
