/** The import check that `npm run lint` runs (scripts/check-import-cycles.js), on small trees of its own. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const SCRIPT = path.resolve('scripts/check-import-cycles.js');
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** Writes `files` (path under src/ -> text) into a fresh folder and runs the check on it. */
function check(files: Record<string, string>): { status: number | null; output: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fogline-imports-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  const run = spawnSync(process.execPath, [SCRIPT, dir], { encoding: 'utf8' });
  return { status: run.status, output: run.stdout + run.stderr };
}

describe('check-import-cycles: the layer rule', () => {
  it('passes an import that points down (a shell using a library)', () => {
    const { status, output } = check({
      'control-plane/app.ts': "import { open } from '../store/store.js';\nexport const app = open;\n",
      'store/store.ts': 'export const open = 1;\n',
    });
    expect(output).toContain('every import points down');
    expect(status).toBe(0);
  });

  it('fails an import that points up, naming the file, the import and the layers it crosses', () => {
    const { status, output } = check({
      'control-plane/app.ts': 'export const app = 1;\n',
      'store/store.ts': "import type { app } from '../control-plane/app.js';\nexport type Open = typeof app;\n",
    });
    expect(status).toBe(1);
    expect(output).toContain(
      "layer rule: store/store.ts imports '../control-plane/app.js': store (layer 2, libraries) may not import control-plane (layer 6, shells)",
    );
    expect(output).toContain('layers, bottom first');
  });

  it('fails a top-level folder that no layer names', () => {
    const { status, output } = check({ 'gadgets/gadget.ts': 'export const gadget = 1;\n' });
    expect(status).toBe(1);
    expect(output).toContain('layer rule: gadgets is in no layer');
  });

  it('still fails a cycle within one layer', () => {
    const { status, output } = check({
      'nodes/a.ts': "import { b } from '../registry/b.js';\nexport const a = b;\n",
      'registry/b.ts': "import { a } from '../nodes/a.js';\nexport const b = a;\n",
    });
    expect(status).toBe(1);
    expect(output).toMatch(
      /import cycle: (nodes\/a\.ts -> registry\/b\.ts -> nodes\/a\.ts|registry\/b\.ts -> nodes\/a\.ts -> registry\/b\.ts)/,
    );
  });
});
