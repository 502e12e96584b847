// npm's `prepare` hook: builds dist/ unless it is already newer than every source file.
//
// npm runs `prepare` after `npm ci`, and again the first time `npx fogline` is used in a clone
// (npm links the folder into its exec cache and "prepares" it). That second build took ~16 s with
// no output, while `fogline up` was running from the same dist/; skipping a current build makes
// the first `npx fogline` as quick as the next ones.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const SOURCES = ['src', 'dashboard', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];
const OUTPUTS = ['dist/cli/main.js', 'dist/dashboard/index.html'];

/** Newest modification time under `target` (a file or a folder), skipping node_modules. */
function newestMtime(target) {
  const stat = fs.statSync(target, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const entry of fs.readdirSync(target)) {
    if (entry !== 'node_modules') newest = Math.max(newest, newestMtime(path.join(target, entry)));
  }
  return newest;
}

const builtAt = Math.min(...OUTPUTS.map((file) => fs.statSync(path.join(root, file), { throwIfNoEntry: false })?.mtimeMs ?? 0));
const changedAt = Math.max(...SOURCES.map((source) => newestMtime(path.join(root, source))));
// Progress goes to stderr: `npm pack --json` prints its JSON on stdout after this script's output.
const toStderr = ['inherit', 2, 'inherit'];
if (builtAt > changedAt && process.env.FOGLINE_FORCE_BUILD !== '1') {
  console.error('dist/ is up to date (npm run build rebuilds it)');
  // The commit may have moved without a source change: `npm pack` must record the one it packs.
  const info = spawnSync(process.execPath, [path.join(root, 'scripts', 'write-build-info.js')], { stdio: toStderr });
  process.exit(info.status ?? 1);
} else {
  const result = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: toStderr });
  process.exit(result.status ?? 1);
}
