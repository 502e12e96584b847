// Writes dist/build-info.json: the build that `fogline --version` and GET /healthz report.
//
// The build id is the commit's short sha (FOGLINE_BUILD_ID overrides it, e.g. in an image build
// without .git; 'unknown' when neither is there), so that a running install needs no git.
// `npm run build` runs it last, and scripts/prepare.js again when it skips an up-to-date build,
// so that `npm pack` records the commit it packs.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

function gitShortSha() {
  const result = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' });
  const sha = result.status === 0 ? result.stdout.trim() : '';
  if (sha === '') return 'unknown';
  const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, encoding: 'utf8' });
  return dirty.status === 0 && dirty.stdout.trim() !== '' ? `${sha}-dirty` : sha;
}

const { version } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const info = {
  version,
  build: process.env.FOGLINE_BUILD_ID?.trim() || gitShortSha(),
  date: new Date().toISOString(),
};
fs.mkdirSync(path.join(root, 'dist'), { recursive: true });
// Written by rename: a fogline process starting meanwhile (tests pack while others run) never reads half a file.
const target = path.join(root, 'dist', 'build-info.json');
const temporary = `${target}.${process.pid}.tmp`;
fs.writeFileSync(temporary, `${JSON.stringify(info, null, 2)}\n`);
fs.renameSync(temporary, target);
console.log(`dist/build-info.json: ${info.version} (build ${info.build}, ${info.date})`);
