import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SERVER_INFO_FILE } from '../control-plane/data-dir-files.js';
import { parseDatabaseUrl } from '../store/database-url.js';
import { VERSION } from '../version.js';
import { ArchiveError, readTar, type TarEntry, TarWriter } from './tar.js';

export const MANIFEST_ENTRY = 'manifest.json';
/** The manifest's own sha256, so that no byte of the archive goes unchecked. */
export const MANIFEST_HASH_ENTRY = 'manifest.sha256';
export const DATABASE_ENTRY = 'database/fogline.db';
const DATA_PREFIX = 'data/';

/**
 * What a data folder holds that is not worth keeping: the running server's address (rewritten on
 * start), caches it rebuilds, and the SQLite files, which the backup takes through SQLite itself;
 * below the top level, `*.tmp` files and the stores' `tmp/` folders of uploads in progress.
 */
const SKIPPED_TOP_LEVEL = new Set([SERVER_INFO_FILE, 'cache', 'artifact-cache']);

export interface BackupManifest {
  format: 'fogline-backup';
  formatVersion: 1;
  foglineVersion: string;
  created: string;
  entries: TarEntry[];
}

/** A backup or restore this install cannot do as asked (an external database, a running server). */
export class BackupRefused extends Error {
  constructor(
    message: string,
    /** The CLI's exit status: 2 for "not for this kind of install", 1 otherwise. */
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'BackupRefused';
  }
}

export interface BackupTarget {
  dataDir: string;
  /** The database URL (--db / FOGLINE_DB). */
  db: string;
}

function sqliteFile(target: BackupTarget, verb: 'backup' | 'restore'): string {
  const database = parseDatabaseUrl(target.db);
  if (database.dialect === 'sqlite') return path.resolve(database.target);
  const tool = database.dialect === 'postgres' ? 'pg_dump / pg_restore' : 'mariadb-dump / mariadb';
  throw new BackupRefused(
    `fogline ${verb} handles the embedded SQLite install only; this install uses ${database.dialect === 'postgres' ? 'PostgreSQL' : 'MariaDB/MySQL'}: ${verb} its database with ${tool}, and copy the data folder's signing-key.pem and admin.token yourself`,
    2,
  );
}

/** Relative paths (with /) of the files under `dir` worth keeping, skipping `skip` (absolute). */
function dataFiles(dir: string, skip: Set<string>): string[] {
  const files: string[] = [];
  const walk = (relative: string) => {
    for (const entry of fs.readdirSync(path.join(dir, relative), { withFileTypes: true })) {
      const child = relative ? `${relative}/${entry.name}` : entry.name;
      const absolute = path.join(dir, child);
      if ((!relative && SKIPPED_TOP_LEVEL.has(entry.name)) || skip.has(absolute) || entry.name.endsWith('.tmp')) continue;
      // The stores' uploads in progress (<store>/tmp/): renamed into place or removed at any moment
      // while the server runs, swept at its start, and never what a database row points to.
      if (entry.isDirectory() && entry.name === 'tmp') continue;
      if (entry.isDirectory()) walk(child);
      else if (entry.isFile()) files.push(child);
    }
  };
  walk('');
  return files.sort();
}

/**
 * Writes one archive of the embedded install: a consistent copy of the SQLite database (taken
 * with `VACUUM INTO`, in one read transaction, while the server may go on writing), then the
 * data folder's files (artifacts, datasets, signing key, admin token, agents' credentials), then a
 * manifest with the sha256 of each entry. The database is copied first: files the server adds
 * meanwhile are extra in the archive, never missing for a row of the copied database.
 */
export async function createBackup(target: BackupTarget, archive: string): Promise<BackupManifest> {
  const dbFile = sqliteFile(target, 'backup');
  if (!fs.existsSync(dbFile)) throw new BackupRefused(`There is no database at ${dbFile}: nothing to back up (check --data-dir / --db)`);
  if (fs.existsSync(archive)) throw new BackupRefused(`${archive} exists already: give a new file name`);
  const scratch = fs.mkdtempSync(path.join(path.dirname(path.resolve(archive)), '.fogline-backup-'));
  const partial = `${archive}.partial`;
  try {
    const copy = path.join(scratch, 'fogline.db');
    const db = new Database(dbFile, { fileMustExist: true });
    try {
      db.pragma('busy_timeout = 10000');
      db.prepare('VACUUM INTO ?').run(copy);
    } finally {
      db.close();
    }
    releaseLeases(copy);
    const writer = new TarWriter(partial);
    const entries: TarEntry[] = [];
    try {
      entries.push({ name: DATABASE_ENTRY, ...writer.add(DATABASE_ENTRY, { source: copy }) });
      const skip = new Set(['', '-wal', '-shm', '-journal'].map((suffix) => `${dbFile}${suffix}`));
      for (const file of dataFiles(target.dataDir, skip)) {
        const name = `${DATA_PREFIX}${file}`;
        entries.push({ name, ...writer.add(name, { source: path.join(target.dataDir, file) }) });
      }
      const manifest: BackupManifest = {
        format: 'fogline-backup',
        formatVersion: 1,
        foglineVersion: VERSION,
        created: new Date().toISOString(),
        entries,
      };
      const { sha256 } = writer.add(MANIFEST_ENTRY, { content: Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`) });
      writer.add(MANIFEST_HASH_ENTRY, { content: Buffer.from(`${sha256}\n`) });
      writer.close();
    } catch (error) {
      writer.abort();
      throw error;
    }
    fs.renameSync(partial, archive);
    return readArchive(archive);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
    fs.rmSync(partial, { force: true });
  }
}

/**
 * The copy holds the running server's control-plane lease (its host and pid): a server started on
 * the restored database would take it for a live second control plane. Nobody holds it in a copy.
 */
function releaseLeases(file: string): void {
  const db = new Database(file, { fileMustExist: true });
  try {
    const table = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'leases'").get();
    if (table) db.prepare("UPDATE leases SET holder = '', host = '', pid = 0, expires_at = 0").run();
  } finally {
    db.close();
  }
}

/**
 * Reads the whole archive and checks it: well-formed, the manifest last and intact, and every
 * other entry listed there with its size and sha256, nothing more, nothing less.
 */
export async function readManifest(archive: string): Promise<BackupManifest> {
  return readArchive(archive);
}

/** One pass over the archive, handing the content chunks of the other entries to `onData`. */
function readArchive(archive: string, onData?: (name: string, chunk: Buffer) => void): BackupManifest {
  let manifestText = '';
  let hashText = '';
  const entries = readTar(archive, (name, chunk) => {
    if (name === MANIFEST_ENTRY) manifestText += chunk.toString('utf8');
    else if (name === MANIFEST_HASH_ENTRY) hashText += chunk.toString('utf8');
    else onData?.(name, chunk);
  });
  const manifest = checkManifest(entries, manifestText);
  checkManifestHash(entries, hashText);
  return manifest;
}

function checkManifest(entries: TarEntry[], manifestText: string): BackupManifest {
  const last = entries.at(-1);
  const manifestEntry = entries.at(-2);
  if (last?.name !== MANIFEST_HASH_ENTRY || manifestEntry?.name !== MANIFEST_ENTRY) throw new ArchiveError('the manifest is missing');
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(manifestText) as BackupManifest;
  } catch {
    throw new ArchiveError('the manifest is not valid JSON');
  }
  if (manifest.format !== 'fogline-backup' || manifest.formatVersion !== 1 || !Array.isArray(manifest.entries))
    throw new ArchiveError('this is not a Fogline backup of a format this version reads');
  const content = entries.slice(0, -2);
  const listed = manifest.entries;
  const same =
    listed.length === content.length &&
    listed.every((entry, index) => {
      const actual = content[index];
      return actual && entry.name === actual.name && entry.size === actual.size && entry.sha256 === actual.sha256;
    });
  if (!same) throw new ArchiveError('the entries do not match the sha256 sums of the manifest');
  if (!content.some((entry) => entry.name === DATABASE_ENTRY)) throw new ArchiveError('the archive holds no database');
  for (const entry of content) {
    const relative = entry.name.startsWith(DATA_PREFIX) ? entry.name.slice(DATA_PREFIX.length) : undefined;
    if (entry.name !== DATABASE_ENTRY && (!relative || relative.split('/').some((part) => part === '' || part === '.' || part === '..')))
      throw new ArchiveError(`unexpected entry ${entry.name}`);
  }
  return manifest;
}

/** The manifest's own hash entry must hold the manifest's sha256. */
function checkManifestHash(entries: TarEntry[], hashText: string): void {
  const manifestEntry = entries.find((entry) => entry.name === MANIFEST_ENTRY);
  if (!manifestEntry || hashText.trim() !== manifestEntry.sha256) throw new ArchiveError('the manifest does not match its sha256');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid in the data folder's server.json when that process still runs. */
function runningServerPid(dataDir: string): number | undefined {
  try {
    const { pid } = JSON.parse(fs.readFileSync(path.join(dataDir, SERVER_INFO_FILE), 'utf8')) as { pid?: unknown };
    return typeof pid === 'number' && isAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

export interface RestoreResult {
  manifest: BackupManifest;
  files: number;
}

/**
 * Restores an archive of {@link createBackup} into the data folder and database file. Refuses a
 * folder a running server uses, a folder or database that holds something (unless `force`), and
 * any archive that is not intact: the whole archive is checked before anything is written, and
 * then written into a scratch folder beside the data folder (checked again) and moved in place.
 */
export async function restoreBackup(target: BackupTarget, archive: string, options: { force: boolean }): Promise<RestoreResult> {
  const dbFile = sqliteFile(target, 'restore');
  const dataDir = path.resolve(target.dataDir);
  const pid = runningServerPid(dataDir);
  if (pid !== undefined)
    throw new BackupRefused(
      `A control plane (pid ${pid}, see ${path.join(dataDir, SERVER_INFO_FILE)}) runs on ${dataDir}: stop it before restoring`,
    );
  const existing = fs.existsSync(dataDir) ? fs.readdirSync(dataDir) : [];
  const dbFiles = ['', '-wal', '-shm', '-journal'].map((suffix) => `${dbFile}${suffix}`);
  if (!options.force) {
    if (existing.length > 0)
      throw new BackupRefused(`${dataDir} is not empty: restore into an empty folder, or pass --force to replace what it holds`);
    if (fs.existsSync(dbFile)) throw new BackupRefused(`${dbFile} exists: pass --force to replace it`);
  }
  const manifest = readArchive(archive);

  fs.mkdirSync(path.dirname(dataDir), { recursive: true });
  const scratch = fs.mkdtempSync(path.join(path.dirname(dataDir), '.fogline-restore-'));
  try {
    let open: { name: string; fd: number } | undefined;
    const closeOpen = () => {
      if (open) fs.closeSync(open.fd);
      open = undefined;
    };
    try {
      readArchive(archive, (name, chunk) => {
        if (open?.name !== name) {
          closeOpen();
          const file = path.join(scratch, name);
          fs.mkdirSync(path.dirname(file), { recursive: true });
          open = { name, fd: fs.openSync(file, 'wx', 0o600) };
        }
        fs.writeSync(open.fd, chunk);
      });
    } finally {
      closeOpen();
    }
    // Empty entries get no chunk: create them too.
    for (const entry of manifest.entries) {
      const file = path.join(scratch, entry.name);
      if (!fs.existsSync(file)) {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, '', { mode: 0o600 });
      }
    }
    // Checked: now replace what was there.
    if (options.force) {
      for (const name of existing) fs.rmSync(path.join(dataDir, name), { recursive: true, force: true });
      for (const file of dbFiles) fs.rmSync(file, { force: true });
    }
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const staged = path.join(scratch, DATA_PREFIX);
    if (fs.existsSync(staged)) for (const name of fs.readdirSync(staged)) fs.renameSync(path.join(staged, name), path.join(dataDir, name));
    fs.mkdirSync(path.dirname(dbFile), { recursive: true });
    fs.copyFileSync(path.join(scratch, DATABASE_ENTRY), dbFile);
    return { manifest, files: manifest.entries.length - 1 };
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
