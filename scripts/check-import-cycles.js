#!/usr/bin/env node
// Fails when modules under src/ import each other in a cycle (STYLE: no circular imports).
// Reads relative `import … from './x.js'` specifiers; type-only imports count too, because a
// cycle of types still tangles the layers.
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(process.argv[2] ?? 'src');
const files = fs
  .readdirSync(root, { recursive: true })
  .map((name) => path.join(root, String(name)))
  .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'));

const graph = new Map();
for (const file of files) {
  const text = fs.readFileSync(file, 'utf8');
  const targets = [...text.matchAll(/(?:import|export)[^'";]*?from\s+'(\.{1,2}\/[^']+)'/g)].map((match) =>
    path.resolve(path.dirname(file), match[1].replace(/\.js$/, '.ts')),
  );
  graph.set(
    file,
    targets.filter((target) => fs.existsSync(target)),
  );
}

const state = new Map(); // undefined: unvisited, 1: on the stack, 2: done
const stack = [];
const cycles = [];
function visit(file) {
  state.set(file, 1);
  stack.push(file);
  for (const next of graph.get(file) ?? []) {
    if (state.get(next) === 1) cycles.push([...stack.slice(stack.indexOf(next)), next]);
    else if (state.get(next) === undefined) visit(next);
  }
  stack.pop();
  state.set(file, 2);
}
for (const file of graph.keys()) if (state.get(file) === undefined) visit(file);

if (cycles.length > 0) {
  for (const cycle of cycles) console.error(`import cycle: ${cycle.map((file) => path.relative(root, file)).join(' -> ')}`);
  process.exit(1);
}
console.log(`no import cycles among ${files.length} modules`);
