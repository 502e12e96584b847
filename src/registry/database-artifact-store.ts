import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Kysely, sql } from 'kysely';
import type { DialectName } from '../store/database-url.js';
import type { Database } from '../store/schema.js';
import { isUniqueViolation } from '../store/unique-violation.js';
import {
  type ArtifactStore,
  ArtifactMissingError,
  ArtifactTooLargeError,
  assertSha256,
  type ByteRange,
  singleChunk,
  type StoredArtifact,
} from './artifact-store.js';

/**
 * 1 MiB: well below MariaDB's max_allowed_packet (16 MiB by default since 10.2; a statement carries
 * one chunk, hex-encoded, so twice its size) and InnoDB's limit of a tenth of the redo log for one
 * row's blobs (96 MiB log by default: 9.6 MiB), and few enough round trips that PostgreSQL moves
 * tens of MiB/s. On a MariaDB with a smaller max_allowed_packet, chunks shrink to fit (chunkBytesFor).
 */
export const DEFAULT_CHUNK_BYTES = 1 << 20;
/** Chunks fetched per query while streaming: bounds memory to this many chunks per open download. */
const CHUNKS_PER_READ = 4;
/** An upload still uncommitted after this long was abandoned by a process that died mid-way. */
export const ABANDONED_AFTER_MS = 24 * 3600_000;

export interface DatabaseArtifactStoreOptions {
  /** Which store this is (models, datasets, federated): each keeps and removes its own artifacts. */
  space: string;
  /** Where artifacts are copied for readers that need a local file (localFile): `<dataDir>/artifact-cache`. */
  cacheDir: string;
  /** On MariaDB ('mysql') the chunk size is capped by the server's max_allowed_packet. */
  dialect?: DialectName;
  chunkBytes?: number;
  now?: () => number;
}

/**
 * Artifacts in the database that several control planes share (PostgreSQL, MariaDB; SQLite for a
 * single server and tests), in chunks. An upload writes a blob row, then its chunks as they
 * stream in (hashing on the way), and last sets the blob's digest: that update is the commit, so
 * a process killed mid-upload leaves only an uncommitted blob that no reader sees and
 * `sweepAbandoned` removes. Two uploads of the same content race on the unique digest: the loser
 * drops its own copy. Downloads stream a few chunks at a time and honour byte ranges.
 */
export class DatabaseArtifactStore implements ArtifactStore {
  private readonly space: string;
  private readonly cacheDir: string;
  /** Local copies being made, by digest. */
  private readonly warming = new Map<string, Promise<unknown>>();
  private readonly chunkBytes: number;
  private readonly dialect: DialectName | undefined;
  private readonly now: () => number;
  private fittedChunkBytes: Promise<number> | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    options: DatabaseArtifactStoreOptions,
  ) {
    this.space = options.space;
    this.cacheDir = options.cacheDir;
    this.chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    this.dialect = options.dialect;
    this.now = options.now ?? Date.now;
    if (!Number.isInteger(this.chunkBytes) || this.chunkBytes < 1)
      throw new Error(`chunk size must be a positive integer, not ${this.chunkBytes}`);
  }

  async putBytes(bytes: Uint8Array): Promise<StoredArtifact> {
    return this.putStream(singleChunk(bytes));
  }

  async putStream(source: AsyncIterable<Uint8Array>, limitBytes = Number.POSITIVE_INFINITY): Promise<StoredArtifact> {
    const chunkBytes = await this.chunkSize();
    const blobId = randomBytes(16).toString('hex');
    await this.db
      .insertInto('artifact_blobs')
      .values({
        id: blobId,
        space: this.space,
        sha256: null,
        size_bytes: null,
        chunk_bytes: chunkBytes,
        started_at: this.now(),
        committed_at: null,
      })
      .execute();
    try {
      const hash = createHash('sha256');
      let sizeBytes = 0;
      let seq = 0;
      for await (const chunk of rechunk(source, chunkBytes)) {
        sizeBytes += chunk.length;
        if (sizeBytes > limitBytes) throw new ArtifactTooLargeError(limitBytes);
        hash.update(chunk);
        await this.db.insertInto('artifact_chunks').values({ blob_id: blobId, seq, bytes: chunk }).execute();
        seq++;
      }
      const sha256 = hash.digest('hex');
      try {
        await this.db
          .updateTable('artifact_blobs')
          .set({ sha256, size_bytes: sizeBytes, committed_at: this.now() })
          .where('id', '=', blobId)
          .execute();
      } catch (error) {
        // Stored already (by another upload of the same bytes, perhaps another server): keep that one.
        if (!isUniqueViolation(error)) throw error;
        await this.dropBlob(blobId);
      }
      return { sha256, sizeBytes };
    } catch (error) {
      await this.dropBlob(blobId).catch(() => undefined);
      throw error;
    }
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.find(sha256)) !== undefined;
  }

  async size(sha256: string): Promise<number | undefined> {
    return (await this.find(sha256))?.sizeBytes;
  }

  async read(sha256: string): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const part of this.chunksOf(sha256, {})) parts.push(part);
    return Buffer.concat(parts);
  }

  /**
   * Downloads come from the verified local copy once there is one (a rollout to a thousand agents
   * reads the database once per replica, not once per agent); the first whole download makes it.
   */
  createReadStream(sha256: string, range: ByteRange = {}): Readable {
    return Readable.from(this.bytesOf(sha256, range), { objectMode: false });
  }

  private async *bytesOf(sha256: string, range: ByteRange): AsyncGenerator<Buffer> {
    const cached = this.cachedFile(sha256);
    // The copy counts only while the artifact is stored: another replica may have removed it.
    if (fs.existsSync(cached) && (await this.has(sha256))) {
      const size = fs.statSync(cached).size;
      const end = Math.min(range.end ?? size - 1, size - 1);
      if ((range.start ?? 0) > end) return;
      yield* fs.createReadStream(cached, { start: range.start ?? 0, end }) as AsyncIterable<Buffer>;
      return;
    }
    if (range.start === undefined && range.end === undefined) this.warm(sha256);
    yield* this.chunksOf(sha256, range);
  }

  /** Makes the local copy in the background, once per artifact at a time. */
  private warm(sha256: string): void {
    if (this.warming.has(sha256)) return;
    const copy = this.localFile(sha256)
      .catch(() => undefined)
      .finally(() => this.warming.delete(sha256));
    this.warming.set(sha256, copy);
  }

  private cachedFile(sha256: string): string {
    return path.join(this.cacheDir, sha256.slice(0, 2), sha256);
  }

  async localFile(sha256: string): Promise<string> {
    assertSha256(sha256);
    const file = this.cachedFile(sha256);
    // The cached copy counts only while the artifact is stored (another server may have removed it).
    if (!(await this.has(sha256))) throw new ArtifactMissingError(sha256);
    if (fs.existsSync(file)) return file;
    fs.mkdirSync(path.join(this.cacheDir, 'tmp'), { recursive: true });
    const temporary = path.join(this.cacheDir, 'tmp', `${process.pid}-${randomBytes(6).toString('hex')}`);
    const hash = createHash('sha256');
    try {
      await pipeline(
        Readable.from(this.chunksOf(sha256, {}), { objectMode: false }),
        async function* (chunks: AsyncIterable<Buffer>) {
          for await (const chunk of chunks) {
            hash.update(chunk);
            yield chunk;
          }
        },
        fs.createWriteStream(temporary, { mode: 0o600 }),
      );
      if (hash.digest('hex') !== sha256) throw new Error(`artifact ${sha256} read back from the database does not match its digest`);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.renameSync(temporary, file);
      return file;
    } catch (error) {
      fs.rmSync(temporary, { force: true });
      throw error;
    }
  }

  async remove(sha256: string): Promise<void> {
    assertSha256(sha256);
    const blob = await this.db
      .selectFrom('artifact_blobs')
      .select('id')
      .where('space', '=', this.space)
      .where('sha256', '=', sha256)
      .executeTakeFirst();
    if (blob) await this.dropBlob(blob.id);
    fs.rmSync(this.cachedFile(sha256), { force: true });
  }

  /**
   * Removes the uploads that processes killed mid-way left behind, in every space (a day old: no
   * live upload takes that long); returns how many. Run at start-up.
   */
  async sweepAbandoned(olderThanMs = ABANDONED_AFTER_MS): Promise<number> {
    const abandoned = await this.db
      .selectFrom('artifact_blobs')
      .select('id')
      .where('committed_at', 'is', null)
      .where('started_at', '<', this.now() - olderThanMs)
      .execute();
    for (const { id } of abandoned) await this.dropBlob(id);
    return abandoned.length;
  }

  private chunkSize(): Promise<number> {
    if (this.dialect !== 'mysql') return Promise.resolve(this.chunkBytes);
    this.fittedChunkBytes ??= sql<{ packet: number | string }>`select @@max_allowed_packet as packet`
      .execute(this.db)
      .then((result) => chunkBytesFor(Number(result.rows[0]?.packet), this.chunkBytes));
    return this.fittedChunkBytes;
  }

  private async find(sha256: string): Promise<{ id: string; sizeBytes: number; chunkBytes: number } | undefined> {
    assertSha256(sha256);
    const row = await this.db
      .selectFrom('artifact_blobs')
      .select(['id', 'size_bytes', 'chunk_bytes'])
      .where('space', '=', this.space)
      .where('sha256', '=', sha256)
      .executeTakeFirst();
    return row ? { id: row.id, sizeBytes: Number(row.size_bytes), chunkBytes: Number(row.chunk_bytes) } : undefined;
  }

  /** The bytes from `start` to `end` (inclusive), a few chunks per query, trimmed to the range at both ends. */
  private async *chunksOf(sha256: string, range: ByteRange): AsyncGenerator<Buffer> {
    const blob = await this.find(sha256);
    if (!blob) throw new ArtifactMissingError(sha256);
    const start = range.start ?? 0;
    const end = Math.min(range.end ?? blob.sizeBytes - 1, blob.sizeBytes - 1);
    if (start > end) return;
    const lastSeq = Math.floor(end / blob.chunkBytes);
    for (let seq = Math.floor(start / blob.chunkBytes); seq <= lastSeq; seq += CHUNKS_PER_READ) {
      const rows = await this.db
        .selectFrom('artifact_chunks')
        .select(['seq', 'bytes'])
        .where('blob_id', '=', blob.id)
        .where('seq', '>=', seq)
        .where('seq', '<=', Math.min(seq + CHUNKS_PER_READ - 1, lastSeq))
        .orderBy('seq')
        .execute();
      const expected = Math.min(CHUNKS_PER_READ, lastSeq - seq + 1);
      // Removed while it streamed: end with an error rather than a silently short download.
      if (rows.length !== expected) throw new ArtifactMissingError(sha256);
      for (const row of rows) {
        const offset = Number(row.seq) * blob.chunkBytes;
        const bytes = Buffer.isBuffer(row.bytes) ? row.bytes : Buffer.from(row.bytes);
        const from = Math.max(0, start - offset);
        const to = Math.min(bytes.length, end - offset + 1);
        yield from === 0 && to === bytes.length ? bytes : bytes.subarray(from, to);
      }
    }
  }

  private async dropBlob(blobId: string): Promise<void> {
    await this.db.deleteFrom('artifact_chunks').where('blob_id', '=', blobId).execute();
    await this.db.deleteFrom('artifact_blobs').where('id', '=', blobId).execute();
  }
}

/**
 * The largest chunk up to `preferred` that one MariaDB statement can carry: the client sends it
 * hex-encoded (twice its size), plus the statement around it.
 */
export function chunkBytesFor(maxAllowedPacket: number, preferred: number): number {
  const fitting = Math.floor((maxAllowedPacket - 64 * 1024) / 2);
  if (!Number.isFinite(fitting) || fitting < 64 * 1024) {
    throw new Error(
      `MariaDB's max_allowed_packet (${maxAllowedPacket} bytes) is too small for the database artifact store: raise it to 16M (the default)`,
    );
  }
  return Math.min(preferred, fitting);
}

/** Regroups a stream of pieces of any size into chunks of exactly `size` bytes (the last one shorter). */
export async function* rechunk(source: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const piece of source) {
    let rest = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    while (pendingBytes + rest.length >= size) {
      const take = size - pendingBytes;
      pending.push(rest.subarray(0, take));
      // A copy: the caller's buffers may be reused once we return to them.
      yield Buffer.concat(pending, size);
      rest = rest.subarray(take);
      pending = [];
      pendingBytes = 0;
    }
    if (rest.length > 0) {
      pending.push(Buffer.from(rest));
      pendingBytes += rest.length;
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes);
}
