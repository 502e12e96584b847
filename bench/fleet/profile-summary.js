#!/usr/bin/env node
// Summarises a V8 .cpuprofile (from `npm run bench:fleet -- --profile`): where the control
// plane spent its CPU during the measured window, by package, by function (self time) and by
// function including callees. Usage:
//   node bench/fleet/profile-summary.js <file.cpuprofile> [--top 25] [--all]
// With <file>.window.json next to the profile (run.js writes it), only samples inside the
// measured steady-state window count; --all takes the whole profile (enrolment included).
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' }, all: { type: 'boolean', default: false } },
});
if (positionals.length !== 1) {
  console.error('Usage: node bench/fleet/profile-summary.js <file.cpuprofile> [--top N] [--all]');
  process.exit(2);
}
const file = positionals[0];
const top = Number(values.top);
const profile = JSON.parse(fs.readFileSync(file, 'utf8'));

let fromUs = profile.startTime;
let toUs = profile.endTime;
const windowFile = `${file}.window.json`;
if (!values.all && fs.existsSync(windowFile)) {
  const window = JSON.parse(fs.readFileSync(windowFile, 'utf8'));
  fromUs = Math.max(profile.startTime, profile.endTime - window.windowStartBeforeEndMs * 1000);
  toUs = Math.min(profile.endTime, profile.endTime - window.windowEndBeforeEndMs * 1000);
}

const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

function packageOf(url) {
  if (!url) return '(native/vm)';
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith('node:')) return 'node (core)';
  const dist = url.indexOf('/dist/');
  if (dist >= 0)
    return `fogline ${url
      .slice(dist + 1)
      .split('/')
      .slice(0, 2)
      .join('/')}`;
  return path.basename(url);
}
function keyOf(node) {
  const frame = node.callFrame;
  const name = frame.functionName || '(anonymous)';
  if (!frame.url) return name;
  const short = frame.url.replace(/^file:\/\//, '').replace(/^.*\/(node_modules|dist)\//, '$1/');
  return `${name}  ${short}:${frame.lineNumber + 1}`;
}

const self = new Map();
const inclusive = new Map();
const packages = new Map();
let total = 0;
let idle = 0;
let time = profile.startTime;
for (let i = 0; i < profile.samples.length; i++) {
  time += profile.timeDeltas[i];
  if (time < fromUs || time > toUs) continue;
  const delta = profile.timeDeltas[i + 1] ?? 0;
  const node = byId.get(profile.samples[i]);
  const name = node.callFrame.functionName;
  total += delta;
  if (name === '(idle)') {
    idle += delta;
    continue;
  }
  const key = keyOf(node);
  self.set(key, (self.get(key) ?? 0) + delta);
  const pkg = name === '(garbage collector)' ? '(garbage collector)' : name === '(program)' ? '(program)' : packageOf(node.callFrame.url);
  packages.set(pkg, (packages.get(pkg) ?? 0) + delta);
  const seen = new Set();
  for (let id = node.id; id !== undefined; id = parent.get(id)) {
    const ancestorKey = keyOf(byId.get(id));
    if (seen.has(ancestorKey)) continue;
    seen.add(ancestorKey);
    inclusive.set(ancestorKey, (inclusive.get(ancestorKey) ?? 0) + delta);
  }
}

const busy = total - idle;
const ms = (us) => (us / 1000).toFixed(0).padStart(7);
const pct = (us) => `${((us / busy) * 100).toFixed(1).padStart(5)}%`;
const list = (map, n) =>
  [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([key, us]) => `  ${ms(us)} ms ${pct(us)}  ${key}`)
    .join('\n');

console.log(
  `${path.basename(file)}: ${((toUs - fromUs) / 1e6).toFixed(1)} s profiled${values.all ? ' (whole run)' : ' (measured window)'}, ` +
    `busy ${(busy / 1000).toFixed(0)} ms (${((busy / (toUs - fromUs)) * 100).toFixed(1)}% of one core), idle ${(idle / 1000).toFixed(0)} ms`,
);
console.log('\nBy package (self time, % of busy):');
console.log(list(packages, 15));
console.log(`\nTop ${top} functions by self time:`);
console.log(list(self, top));
console.log(`\nTop ${top} functions including callees:`);
console.log(list(new Map([...inclusive].filter(([key]) => !key.startsWith('(root)'))), top));
