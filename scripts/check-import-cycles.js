#!/usr/bin/env node
// Fails when modules under src/ import each other in a cycle (STYLE: no circular imports), or when
// a module imports from a layer above its own (STYLE: layers point down). Reads relative
// `import … from './x.js'` specifiers; type-only imports count too, because a cycle of types, or a
// type borrowed from above, still tangles the layers.
import fs from 'node:fs';
import path from 'node:path';

/**
 * The layers of src/, bottom first, by top-level folder (or file). A module may import from its
 * own layer and the layers below it, never from one above. A top-level folder named in no layer
 * fails the check: place it here on purpose.
 */
const LAYERS = [
  // The wire vocabulary, coded errors and the ML library: they import nothing of src/.
  { name: 'foundations', folders: ['contracts', 'errors', 'ml', 'version.ts'] },
  // Libraries on top of them: files, the database, the API client, device codecs, metric primitives.
  { name: 'libraries', folders: ['files', 'store', 'client', 'devices', 'metrics'] },
  // The domains: each owns its tables and repositories and may use the others.
  {
    name: 'domains',
    folders: ['auth', 'audit', 'cluster', 'nodes', 'registry', 'datasets', 'deployments', 'federated', 'drift', 'pipelines', 'work-queue'],
  },
  // Serving requests: the HTTP plumbing, inference, inference sessions.
  { name: 'serving', folders: ['http', 'inference', 'sessions'] },
  // Each process's configuration, parsed once at start-up (it speaks the domains' terms: labels, Redis URLs).
  { name: 'config', folders: ['config'] },
  // The shells that wire the domains into a process.
  { name: 'shells', folders: ['agent', 'control-plane', 'worker'] },
  // What runs several shells: the embedded cluster of `fogline up`, backups of a control plane's data.
  { name: 'composites', folders: ['embedded', 'backup'] },
  { name: 'cli', folders: ['cli'] },
];

const root = path.resolve(process.argv[2] ?? 'src');
const files = fs
  .readdirSync(root, { recursive: true })
  .map((name) => path.join(root, String(name)))
  .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'));

const graph = new Map();
for (const file of files) {
  const text = fs.readFileSync(file, 'utf8');
  const imports = [...text.matchAll(/(?:import|export)[^'";]*?from\s+'(\.{1,2}\/[^']+)'/g)].map((match) => ({
    specifier: match[1],
    target: path.resolve(path.dirname(file), match[1].replace(/\.js$/, '.ts')),
  }));
  graph.set(
    file,
    imports.filter(({ target }) => fs.existsSync(target)),
  );
}

const problems = [];

// Layers: every import points to the importer's layer or one below.
const layerOf = new Map(LAYERS.flatMap((layer, index) => layer.folders.map((folder) => [folder, index])));
const topOf = (file) => path.relative(root, file).split(path.sep)[0];
const describe = (index) => `layer ${index + 1}, ${LAYERS[index].name}`;
const unplaced = new Set();
for (const [file, imports] of graph) {
  const from = topOf(file);
  if (!layerOf.has(from)) {
    unplaced.add(from);
    continue;
  }
  for (const { specifier, target } of imports) {
    const to = topOf(target);
    if (!layerOf.has(to) || layerOf.get(to) <= layerOf.get(from)) continue;
    problems.push(
      `layer rule: ${path.relative(root, file)} imports '${specifier}': ` +
        `${from} (${describe(layerOf.get(from))}) may not import ${to} (${describe(layerOf.get(to))})`,
    );
  }
}
for (const folder of unplaced) {
  problems.push(`layer rule: ${folder} is in no layer: add it to LAYERS in scripts/check-import-cycles.js`);
}

// Cycles, module by module.
const state = new Map(); // undefined: unvisited, 1: on the stack, 2: done
const stack = [];
function visit(file) {
  state.set(file, 1);
  stack.push(file);
  for (const { target: next } of graph.get(file) ?? []) {
    if (state.get(next) === 1) {
      const cycle = [...stack.slice(stack.indexOf(next)), next];
      problems.push(`import cycle: ${cycle.map((f) => path.relative(root, f)).join(' -> ')}`);
    } else if (state.get(next) === undefined) visit(next);
  }
  stack.pop();
  state.set(file, 2);
}
for (const file of graph.keys()) if (state.get(file) === undefined) visit(file);

if (problems.length > 0) {
  for (const problem of problems) console.error(problem);
  if (problems.some((problem) => problem.startsWith('layer rule'))) {
    const order = LAYERS.map((layer, index) => `${index + 1} ${layer.name}: ${layer.folders.join(', ')}`).join('\n  ');
    console.error(`layers, bottom first (a module imports from its own layer and those below):\n  ${order}`);
  }
  process.exit(1);
}
console.log(`no import cycles among ${files.length} modules; every import points down the ${LAYERS.length} layers`);
