// The docs test's sandbox (scripts/readme-test.js): a temporary copy of the repository that looks
// like a fresh clone after `npm ci`, the environment of a newcomer's terminal, and one bash per
// README block in its own process group, with the shell state carried from block to block.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('..', import.meta.url));
/** Built or installed folders that the temporary copy links instead of copying. */
const LINKED = ['node_modules', 'dist'];
/** How long a process group gets to exit after SIGINT before SIGTERM, and after SIGTERM before SIGKILL. */
const INTERRUPT_GRACE_MS = 2_000;
const STOP_GRACE_MS = 10_000;

// Runs one block in bash as if pasted into the terminal that ran the blocks before it: restores
// their variables, functions and folder, and (foreground blocks) saves them again on exit.
const SHELL = `# Written by scripts/readme-sandbox.js: runs one README block; see scripts/readme-test.js.
__rt_dir=$1 __rt_block=$2 __rt_save=$3
set --
exec 2>&1
if [ -f "$__rt_dir/state.sh" ]; then . "$__rt_dir/state.sh" 2>/dev/null; fi
__rt_save_state() {
  local __rt_status=$? __rt_name
  set +e +o pipefail
  {
    for __rt_name in $(compgen -v); do
      case $__rt_name in
        __rt_*|BASH|BASH_*|BASHOPTS|BASHPID|SHELLOPTS|EUID|UID|PPID|GROUPS|FUNCNAME|PIPESTATUS|RANDOM|SRANDOM|SECONDS|LINENO|HISTCMD|EPOCHREALTIME|EPOCHSECONDS|SHLVL|_|OPTIND|OPTARG|PWD|OLDPWD|DIRSTACK|COMP_WORDBREAKS|HOSTNAME|HOSTTYPE|MACHTYPE|OSTYPE|PS4) ;;
        *) declare -p "$__rt_name" 2>/dev/null ;;
      esac
    done
    for __rt_name in $(compgen -A function); do
      case $__rt_name in __rt_*) ;; *) declare -f "$__rt_name" ;; esac
    done
    printf 'cd -- %q\\n' "$PWD"
  } > "$__rt_dir/state.next" && mv -f "$__rt_dir/state.next" "$__rt_dir/state.sh"
  exit "$__rt_status"
}
if [ "$__rt_save" = 1 ]; then trap __rt_save_state EXIT; fi
set -eo pipefail
. "$__rt_block"
`;

// \`npm ci\` in the README would reinstall node_modules, which is the repository's own (linked).
const npmShim = (npm) => `#!/usr/bin/env bash
# Written by scripts/readme-sandbox.js: node_modules here is a link to the repository's, so \`npm ci\`
# and \`npm install\` have nothing to do, and nothing may be installed or removed through the link.
refuse() { echo "readme-test: not running 'npm $*': node_modules is the repository's own (linked)" >&2; exit 1; }
case "\${1-}" in
  ci|clean-install|ic|install-clean|install|i|isntall|add)
    for arg in "\${@:2}"; do case "$arg" in -*) ;; *) refuse "$@" ;; esac; done
    exit 0 ;;
  uninstall|remove|rm|r|un|unlink|update|up|upgrade|prune|dedupe|ddp|link|ln|rebuild|rb) refuse "$@" ;;
esac
exec ${shellQuote(npm)} "$@"
`;

function shellQuote(text) {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

/** The temporary folder of one run, and the process groups started in it. */
export class Sandbox {
  /** `file`: the markdown file, whose name the block files take. */
  constructor(file) {
    this.file = file;
    this.groups = [];
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), 'fogline-readme-'));
    this.clone = path.join(this.root, 'fogline');
    this.tools = path.join(this.root, 'runner');
    this.env = {};
  }

  /** Fills the folder: a copy of the repository's files, node_modules and dist linked, npm shimmed. */
  prepare() {
    if (!fs.existsSync(path.join(REPO, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` first');
    fs.mkdirSync(this.clone);
    fs.mkdirSync(path.join(this.tools, 'bin'), { recursive: true });
    const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
      cwd: REPO,
      maxBuffer: 64 * 1024 * 1024,
    });
    for (const name of listed.toString('utf8').split('\0')) {
      if (!name || LINKED.some((linked) => name === linked || name.startsWith(`${linked}/`))) continue;
      const source = path.join(REPO, name);
      const target = path.join(this.clone, name);
      let stat;
      try {
        stat = fs.lstatSync(source);
      } catch {
        continue; // tracked but deleted in the working tree
      }
      fs.mkdirSync(path.dirname(target), { recursive: true });
      if (stat.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(source), target);
      else if (stat.isFile()) fs.copyFileSync(source, target);
    }
    for (const name of LINKED) {
      if (fs.existsSync(path.join(REPO, name))) fs.symlinkSync(path.join(REPO, name), path.join(this.clone, name));
    }

    const searchPath = (process.env.PATH ?? '')
      .split(path.delimiter)
      .filter((dir) => dir && !dir.includes(`${path.sep}node_modules${path.sep}.bin`) && !dir.includes('node-gyp-bin'));
    if (!searchPath.includes(path.dirname(process.execPath))) searchPath.push(path.dirname(process.execPath));
    const npm = searchPath.map((dir) => path.join(dir, 'npm')).find((file) => fs.existsSync(file));
    if (!npm) throw new Error('npm is not on PATH');
    fs.writeFileSync(path.join(this.tools, 'bin', 'npm'), npmShim(npm), { mode: 0o755 });
    fs.writeFileSync(path.join(this.tools, 'shell.sh'), SHELL);

    // A newcomer's terminal: none of npm's run-script variables or the caller's FOGLINE_* settings.
    for (const [name, value] of Object.entries(process.env)) {
      if (/^(npm_|fogline_)/i.test(name) || name === 'INIT_CWD' || name === 'NODE') continue;
      this.env[name] = value;
    }
    this.env.PATH = [path.join(this.tools, 'bin'), ...searchPath].join(path.delimiter);
    this.env.npm_config_cache = path.join(this.tools, 'npm-cache');
    this.env.npm_config_update_notifier = 'false';

    // `npx fogline` in a project that is itself `fogline` links the project into npx's cache, which
    // runs its `prepare` script (a full build) the first time; the build is in dist/ already.
    const primed = spawnSync('npx', ['fogline', '--help'], {
      cwd: this.clone,
      env: { ...this.env, npm_config_ignore_scripts: 'true' },
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (primed.status !== 0) {
      throw new Error(`\`npx fogline --help\` fails in the temporary folder (exit ${primed.status}):\n${primed.stdout}${primed.stderr}`);
    }
  }

  /** Starts a block's bash as the leader of its own process group. */
  start(block, saveState) {
    // Named after the markdown file and padded so that bash's "line N" in an error is its line there.
    const blockFile = path.join(this.tools, `block-${block.index}`, path.basename(this.file));
    fs.mkdirSync(path.dirname(blockFile), { recursive: true });
    fs.writeFileSync(blockFile, `${'\n'.repeat(block.line)}${block.code}\n`);
    const child = spawn(
      'bash',
      ['--noprofile', '--norc', path.join(this.tools, 'shell.sh'), this.tools, blockFile, saveState ? '1' : '0'],
      {
        cwd: this.clone,
        env: this.env,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      },
    );
    const group = new Group(child);
    this.groups.push(group);
    return group;
  }

  /** Stops every group started here, last started first, as Ctrl-C would (then harder). */
  async stopAll() {
    await Promise.all(
      this.groups
        .slice()
        .reverse()
        .map((group) => group.stop('SIGINT')),
    );
  }

  /** SIGKILL to every group at once: for a process that is exiting and cannot wait. */
  killAll() {
    for (const group of this.groups) group.signal('SIGKILL');
  }

  remove() {
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}
/** One process group the run started: a block's bash and everything it spawned. */
export class Group {
  constructor(child) {
    this.child = child;
    this.pid = child.pid;
    this.output = '';
    this.exit = undefined; // { code, signal } once bash has exited
    this.stopping = false;
    for (const stream of [child.stdout, child.stderr]) {
      stream.setEncoding('utf8');
      stream.on('data', (text) => (this.output += text));
    }
    this.closed = new Promise((resolve) => child.once('close', resolve));
    this.exited = new Promise((resolve) => {
      child.once('error', (error) => {
        this.output += `readme-test: could not start bash: ${error.message}\n`;
        this.exit = { code: 127, signal: null };
        resolve(this.exit);
      });
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
  }

  signal(name) {
    try {
      process.kill(-this.pid, name);
    } catch {
      // the group is gone already
    }
  }

  /**
   * Stops the whole group: SIGINT as Ctrl-C would (`first`), SIGTERM soon after for what ignores
   * it (a shell's `cmd &` jobs do), then SIGKILL after the grace time.
   */
  async stop(first = 'SIGINT') {
    this.stopping = true;
    if (this.pid === undefined || !groupAlive(this.pid)) return;
    const gone = () => !groupAlive(this.pid);
    this.signal(first);
    if (first === 'SIGINT') {
      if (await waitFor(gone, INTERRUPT_GRACE_MS)) return;
      this.signal('SIGTERM');
    }
    if (await waitFor(gone, STOP_GRACE_MS)) return;
    this.signal('SIGKILL');
    await waitFor(gone, 2_000);
  }
}

/** Whether any process of the group is still running (zombies do not count: they are dead). */
function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  let entries;
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return true; // no /proc (macOS): the group exists
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z') return true;
  }
  return false;
}

async function waitFor(condition, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return true;
}

/** Ports of `ports` that something already listens on (or that cannot be bound). */
export async function takenPorts(ports) {
  const taken = [];
  for (const port of ports) {
    const free = await new Promise((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
    });
    if (!free) taken.push(port);
  }
  return taken;
}
