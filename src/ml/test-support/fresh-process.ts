import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';

const ML_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// Inside the repository, so the child resolves @tensorflow/* from node_modules like the real code.
const CACHE_DIR = path.resolve(ML_DIR, '../../node_modules/.cache/fogline-ml-fresh-process');

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sources(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [full] : [];
  });
}

/**
 * Compiles src/ml to plain JavaScript (TypeScript's transpiler, no type check) once per content
 * hash and returns the folder: a child `node` process can then load bundles with the library's
 * real code and nothing from the test's process.
 */
export function compiledLibrary(): string {
  const files = sources(ML_DIR);
  const hash = createHash('sha256');
  for (const file of files) hash.update(file).update(fs.readFileSync(file));
  const out = path.join(CACHE_DIR, hash.digest('hex').slice(0, 16));
  if (fs.existsSync(path.join(out, 'done'))) return out;
  for (const file of files) {
    const js = ts.transpileModule(fs.readFileSync(file, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
    }).outputText;
    const target = path.join(out, 'ml', path.relative(ML_DIR, file)).replace(/\.ts$/, '.js');
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, js);
  }
  fs.writeFileSync(path.join(out, 'package.json'), '{"type":"module"}');
  fs.writeFileSync(path.join(out, 'done'), '');
  return out;
}

/** Runs an ES module script (given as source) in a new Node process next to the compiled library; returns its stdout. */
export async function runInFreshProcess(script: string, args: string[]): Promise<string> {
  const dir = compiledLibrary();
  const file = path.join(dir, `script-${createHash('sha256').update(script).digest('hex').slice(0, 12)}.js`);
  fs.writeFileSync(file, script);
  const { stdout } = await promisify(execFile)(process.execPath, [file, ...args], { maxBuffer: 64 << 20 });
  return stdout;
}
