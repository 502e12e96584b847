import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface StoredArtifact {
  sha256: string;
  sizeBytes: number;
}

/** Inclusive byte offsets, as in an HTTP Range header; `end` defaults to the last byte. */
export interface ByteRange {
  start?: number;
  end?: number;
}

/**
 * Content-addressed bytes (bundles, dataset versions, federated updates): an artifact's name is
 * its sha256. A put is atomic: until it completes nothing is visible under that name, so a killed
 * process never leaves a partial artifact behind. Two implementations: a folder on this machine
 * (FolderArtifactStore, below) and the database that several control planes share
 * (DatabaseArtifactStore, database-artifact-store.ts).
 */
export interface ArtifactStore {
  /** Streams `source` in, hashing it on the way; `limitBytes` stops oversize input (ArtifactTooLargeError). */
  putStream(source: AsyncIterable<Uint8Array>, limitBytes?: number): Promise<StoredArtifact>;
  putBytes(bytes: Uint8Array): Promise<StoredArtifact>;
  has(sha256: string): Promise<boolean>;
  /** The artifact's size in bytes; undefined when it is not stored. */
  size(sha256: string): Promise<number | undefined>;
  /** The whole artifact in memory: for small ones (federated updates, bundles being loaded). */
  read(sha256: string): Promise<Buffer>;
  /** Streams the artifact or a byte range of it (downloads, HTTP Range requests); the stream errors when it is not stored. */
  createReadStream(sha256: string, range?: ByteRange): Readable;
  /**
   * A file on this machine with the artifact's bytes, for readers that need a path (dataset
   * parsing, pipeline workers). The folder store returns its own file; the database store
   * copies the artifact into a local cache on first use. Callers must not modify the file.
   */
  localFile(sha256: string): Promise<string>;
  /** Forgets the artifact (no error when it is not stored). */
  remove(sha256: string): Promise<void>;
}

export function assertSha256(sha256: string): void {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`not a sha256 digest: ${sha256}`);
}

/** One async iterable out of one buffer: putBytes in terms of putStream. */
export async function* singleChunk(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

/**
 * Content-addressed files under one folder: a file's name is its sha256. Writes go to a
 * temporary name and are renamed into place only when complete, so a killed process never
 * leaves a partial artifact under a real name.
 */
export class FolderArtifactStore implements ArtifactStore {
  constructor(private readonly root: string) {}

  pathOf(sha256: string): string {
    assertSha256(sha256);
    return path.join(this.root, sha256.slice(0, 2), sha256);
  }

  async has(sha256: string): Promise<boolean> {
    return fs.existsSync(this.pathOf(sha256));
  }

  async size(sha256: string): Promise<number | undefined> {
    try {
      return (await fs.promises.stat(this.pathOf(sha256))).size;
    } catch {
      return undefined;
    }
  }

  async putBytes(bytes: Uint8Array): Promise<StoredArtifact> {
    return this.putStream(singleChunk(bytes));
  }

  async putStream(source: AsyncIterable<Uint8Array>, limitBytes = Number.POSITIVE_INFINITY): Promise<StoredArtifact> {
    fs.mkdirSync(path.join(this.root, 'tmp'), { recursive: true });
    const temporary = path.join(this.root, 'tmp', `${process.pid}-${randomBytes(6).toString('hex')}`);
    const hash = createHash('sha256');
    let sizeBytes = 0;
    try {
      await pipeline(
        source,
        async function* (chunks: AsyncIterable<Uint8Array>) {
          for await (const chunk of chunks) {
            sizeBytes += chunk.length;
            if (sizeBytes > limitBytes) throw new ArtifactTooLargeError(limitBytes);
            hash.update(chunk);
            yield chunk;
          }
        },
        fs.createWriteStream(temporary, { mode: 0o600 }),
      );
      const sha256 = hash.digest('hex');
      const target = this.pathOf(sha256);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.renameSync(temporary, target);
      return { sha256, sizeBytes };
    } catch (error) {
      fs.rmSync(temporary, { force: true });
      throw error;
    }
  }

  async read(sha256: string): Promise<Buffer> {
    try {
      return await fs.promises.readFile(this.pathOf(sha256));
    } catch (error) {
      throw missingOr(error, sha256);
    }
  }

  createReadStream(sha256: string, range: ByteRange = {}): Readable {
    return fs.createReadStream(this.pathOf(sha256), { start: range.start, end: range.end });
  }

  async localFile(sha256: string): Promise<string> {
    if (!(await this.has(sha256))) throw new ArtifactMissingError(sha256);
    return this.pathOf(sha256);
  }

  async remove(sha256: string): Promise<void> {
    fs.rmSync(this.pathOf(sha256), { force: true });
  }
}

function missingOr(error: unknown, sha256: string): unknown {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT' ? new ArtifactMissingError(sha256) : error;
}

export class ArtifactTooLargeError extends Error {
  constructor(readonly limitBytes: number) {
    super(`larger than the limit of ${limitBytes} bytes`);
    this.name = 'ArtifactTooLargeError';
  }
}

export class ArtifactMissingError extends Error {
  constructor(readonly sha256: string) {
    super(`artifact ${sha256} is not in the artifact store`);
    this.name = 'ArtifactMissingError';
  }
}
