/**
 * An agent's start-up, for its memory (docs/agent.md, "Memory"). What it loads: only what serving needs. The other CLI commands, the SQLite
 * driver, mqtt.js (until a binding exists), the federated client (until --fl-data) and
 * TensorFlow.js (until a bundle needs it) stay on disk: each module's code and source text would
 * sit in the agent's heap for its lifetime (docs/agent.md, "Memory"). A child process does what
 * `fogline agent` does before it starts (bin/fogline.js → main → the agent command → agent.js)
 * under a module hook that records every resolved module; the built dist/ is what runs. And its
 * young generation: kept at its starting size unless the operator sized it.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const CHILD = `
import { createRequire, register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
const loaded = new Set();
const { port1, port2 } = new MessageChannel();
port1.on('message', (url) => loaded.add(url));
const hook = 'let port; export function initialize(data) { port = data.port; }' +
  'export async function resolve(specifier, context, next) { const resolved = await next(specifier, context); port.postMessage(resolved.url); return resolved; }';
register('data:text/javascript,' + encodeURIComponent(hook), { data: { port: port2 }, transferList: [port2] });
const { buildProgram } = await import('./dist/cli/main.js');
await buildProgram('agent');
await import('./dist/agent/agent.js');
await new Promise((resolve) => setTimeout(resolve, 200));
const cjs = Object.keys(createRequire(import.meta.url).cache).map((file) => 'file://' + file);
console.log(JSON.stringify([...loaded, ...cjs]));
port1.close();
`;

describe('an agent at start-up', { timeout: 60_000 }, () => {
  it('loads neither the other commands, nor the SQLite driver, mqtt.js, the federated client or TensorFlow.js', () => {
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', CHILD], { cwd: ROOT, encoding: 'utf8' });
    const modules = (JSON.parse(output.trim().split('\n').at(-1)!) as string[]).map((url) => url.replace(/^file:\/\//, ''));
    expect(modules.some((file) => file.endsWith('/dist/agent/agent.js'))).toBe(true);
    expect(modules.some((file) => file.endsWith('/dist/cli/commands/agent.js'))).toBe(true);
    const unwanted = [
      /\/dist\/cli\/commands\/(?!agent\.js)/,
      /\/dist\/(backup|embedded|control-plane|pipelines)\//,
      /\/dist\/agent\/federated\//,
      /\/node_modules\/(better-sqlite3|mqtt|@tensorflow)\//,
    ];
    expect(modules.filter((file) => unwanted.some((pattern) => pattern.test(file)))).toEqual([]);
  });

  const YOUNG = `
import v8 from 'node:v8';
const { keepYoungGenerationSmall } = await import('./dist/agent/young-generation.js');
const kept = keepYoungGenerationSmall();
let keep = [];
for (let i = 0; i < 2e6; i++) {
  const o = { i, s: 'x' + i, a: [i, i] };
  if (i % 50 === 0) keep.push(o);
  if (keep.length > 20000) keep = keep.slice(10000);
}
const young = v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
console.log(JSON.stringify({ kept, youngMiB: young.space_size / 2 ** 20 }));
`;
  const young = (nodeArgs: string[]) =>
    JSON.parse(
      execFileSync(process.execPath, [...nodeArgs, '--input-type=module', '-e', YOUNG], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, NODE_OPTIONS: '' },
      }),
    ) as { kept: boolean; youngMiB: number };

  it('keeps its young generation at its starting size under allocation, unless the node flags size it', () => {
    expect(young([])).toEqual({ kept: true, youngMiB: expect.toSatisfy((mib: number) => mib <= 2) });
    const sized = young(['--max-semi-space-size=4']);
    expect(sized.kept).toBe(false);
    expect(sized.youngMiB).toBeGreaterThan(2);
  });
});
