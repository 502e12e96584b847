import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArtifactMissingError, ArtifactTooLargeError } from '../../src/registry/artifact-store.js';
import { chunkBytesFor, DatabaseArtifactStore, rechunk } from '../../src/registry/database-artifact-store.js';
import { DIALECTS, type MigratedTestStore, migratedTestStore } from '../support/databases.js';
import { tempDir } from '../support/processes.js';

const CHUNK = 1000;
const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

/** Yields `bytes` in pieces of the given sizes (cycled), as a network upload would. */
async function* pieces(bytes: Buffer, sizes: number[] = [337]): AsyncIterable<Uint8Array> {
  for (let offset = 0, i = 0; offset < bytes.length; i++) {
    const size = Math.max(1, sizes[i % sizes.length] ?? 1);
    yield bytes.subarray(offset, offset + size);
    offset += size;
  }
}

async function visibleBlobs(database: MigratedTestStore): Promise<number> {
  const rows = await database.store.db.selectFrom('artifact_blobs').select('id').where('sha256', 'is not', null).execute();
  return rows.length;
}

async function chunkRows(database: MigratedTestStore): Promise<number> {
  return (await database.store.db.selectFrom('artifact_chunks').select('seq').execute()).length;
}

describe.each(DIALECTS)('database artifact store on %s', (dialect) => {
  let database: MigratedTestStore;
  let artifacts: DatabaseArtifactStore;
  let cacheDir: string;

  beforeAll(async () => {
    database = await migratedTestStore(dialect);
    cacheDir = tempDir('artifact-cache');
    artifacts = new DatabaseArtifactStore(database.store.db, { space: 'models', cacheDir, chunkBytes: CHUNK, dialect });
  });

  afterAll(async () => {
    await database?.close();
  });

  it('stores a multi-chunk artifact under its sha256 and gives back the same bytes', async () => {
    const bytes = randomBytes(5 * CHUNK + 123);
    const stored = await artifacts.putStream(pieces(bytes, [1, 999, 4096, 17]));
    expect(stored).toEqual({ sha256: sha(bytes), sizeBytes: bytes.length });
    expect(await artifacts.has(stored.sha256)).toBe(true);
    expect(await artifacts.size(stored.sha256)).toBe(bytes.length);
    expect((await artifacts.read(stored.sha256)).equals(bytes)).toBe(true);
    expect((await collect(artifacts.createReadStream(stored.sha256))).equals(bytes)).toBe(true);
    // Readers that need a path get a verified local copy.
    const file = await artifacts.localFile(stored.sha256);
    expect(file.startsWith(cacheDir)).toBe(true);
    expect(fs.readFileSync(file).equals(bytes)).toBe(true);
  });

  it('serves byte ranges across chunk boundaries', async () => {
    const bytes = randomBytes(3 * CHUNK + 1);
    const { sha256 } = await artifacts.putBytes(bytes);
    for (const [start, end] of [
      [0, 0],
      [CHUNK - 1, CHUNK],
      [CHUNK, 2 * CHUNK - 1],
      [10, 3 * CHUNK],
      [3 * CHUNK, 3 * CHUNK],
    ] as const) {
      expect((await collect(artifacts.createReadStream(sha256, { start, end }))).equals(bytes.subarray(start, end + 1))).toBe(true);
    }
    expect((await collect(artifacts.createReadStream(sha256, { start: 2500 }))).equals(bytes.subarray(2500))).toBe(true);
  });

  it('keeps one copy when the same content is put concurrently', async () => {
    const bytes = randomBytes(4 * CHUNK + 5);
    const results = await Promise.all(Array.from({ length: 4 }, () => artifacts.putStream(pieces(bytes, [700]))));
    expect(new Set(results.map((r) => r.sha256))).toEqual(new Set([sha(bytes)]));
    const rows = await database.store.db.selectFrom('artifact_blobs').select('id').where('sha256', '=', sha(bytes)).execute();
    expect(rows).toHaveLength(1);
    expect((await artifacts.read(sha(bytes))).equals(bytes)).toBe(true);
  });

  it('leaves nothing visible, and no chunks, when an upload fails midway or is too large', async () => {
    const before = { blobs: await visibleBlobs(database), chunks: await chunkRows(database) };
    const bytes = randomBytes(3 * CHUNK);
    async function* failing() {
      yield bytes.subarray(0, 2 * CHUNK + 10);
      throw new Error('connection reset');
    }
    await expect(artifacts.putStream(failing())).rejects.toThrow('connection reset');
    await expect(artifacts.putStream(pieces(bytes), 2 * CHUNK)).rejects.toBeInstanceOf(ArtifactTooLargeError);
    expect(await artifacts.has(sha(bytes))).toBe(false);
    expect({ blobs: await visibleBlobs(database), chunks: await chunkRows(database) }).toEqual(before);
  });

  it('sweeps an upload whose process died before its commit', async () => {
    // What a killed process leaves: a blob row and some chunks, never a digest.
    const db = database.store.db;
    await db
      .insertInto('artifact_blobs')
      .values({ id: 'killed', space: 'models', sha256: null, size_bytes: null, chunk_bytes: CHUNK, started_at: 0, committed_at: null })
      .execute();
    await db
      .insertInto('artifact_chunks')
      .values({ blob_id: 'killed', seq: 0, bytes: randomBytes(CHUNK) })
      .execute();
    const fresh = new DatabaseArtifactStore(db, { space: 'models', cacheDir, chunkBytes: CHUNK, now: () => Date.now() });
    expect(await fresh.sweepAbandoned()).toBe(1);
    expect(await db.selectFrom('artifact_chunks').select('seq').where('blob_id', '=', 'killed').execute()).toEqual([]);
  });

  it('removes an artifact from its own space only, and says when one is missing', async () => {
    const bytes = randomBytes(CHUNK + 1);
    const datasets = new DatabaseArtifactStore(database.store.db, { space: 'datasets', cacheDir, chunkBytes: CHUNK });
    const { sha256 } = await artifacts.putBytes(bytes);
    await datasets.putBytes(bytes);
    await artifacts.localFile(sha256);
    await artifacts.remove(sha256);
    expect(await artifacts.has(sha256)).toBe(false);
    expect(await datasets.has(sha256)).toBe(true);
    await expect(artifacts.read(sha256)).rejects.toBeInstanceOf(ArtifactMissingError);
    await expect(artifacts.localFile(sha256)).rejects.toBeInstanceOf(ArtifactMissingError);
    await expect(collect(artifacts.createReadStream(sha256))).rejects.toBeInstanceOf(ArtifactMissingError);
  });

  it('serves downloads from its verified local copy once a whole download made it, and not after another replica removed the artifact', async () => {
    const bytes = randomBytes(4 * CHUNK + 7);
    const { sha256 } = await artifacts.putBytes(bytes);
    expect((await collect(artifacts.createReadStream(sha256))).equals(bytes)).toBe(true);
    const copy = `${cacheDir}/${sha256.slice(0, 2)}/${sha256}`;
    for (let waited = 0; !fs.existsSync(copy); waited += 20) {
      if (waited > 10_000) throw new Error('no local copy after a whole download');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // With its chunks gone from the database, only the local copy can answer.
    const blob = await database.store.db.selectFrom('artifact_blobs').select('id').where('sha256', '=', sha256).executeTakeFirstOrThrow();
    await database.store.db.deleteFrom('artifact_chunks').where('blob_id', '=', blob.id).execute();
    expect((await collect(artifacts.createReadStream(sha256))).equals(bytes)).toBe(true);
    expect(
      (await collect(artifacts.createReadStream(sha256, { start: CHUNK - 3, end: 2 * CHUNK + 3 }))).equals(
        bytes.subarray(CHUNK - 3, 2 * CHUNK + 4),
      ),
    ).toBe(true);
    expect((await collect(artifacts.createReadStream(sha256, { start: 4 * CHUNK }))).equals(bytes.subarray(4 * CHUNK))).toBe(true);
    // Another replica (its own cache) removes it: this one's copy no longer counts.
    const otherReplica = new DatabaseArtifactStore(database.store.db, {
      space: 'models',
      cacheDir: tempDir('artifact-cache'),
      chunkBytes: CHUNK,
      dialect,
    });
    await otherReplica.remove(sha256);
    await expect(collect(artifacts.createReadStream(sha256))).rejects.toBeInstanceOf(ArtifactMissingError);
  });

  it('stores an empty artifact', async () => {
    const stored = await artifacts.putBytes(new Uint8Array(0));
    expect(stored.sizeBytes).toBe(0);
    expect((await artifacts.read(stored.sha256)).length).toBe(0);
  });

  it('round-trips any size and any range (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 1, maxLength: 4 * CHUNK }),
        fc.array(fc.integer({ min: 1, max: 2 * CHUNK }), { minLength: 1, maxLength: 4 }),
        fc.nat(),
        fc.nat(),
        async (data, sizes, a, b) => {
          const bytes = Buffer.from(data);
          const { sha256, sizeBytes } = await artifacts.putStream(pieces(bytes, sizes));
          expect(sha256).toBe(sha(bytes));
          expect(sizeBytes).toBe(bytes.length);
          const start = a % bytes.length;
          const end = start + (b % (bytes.length - start));
          const part = await collect(artifacts.createReadStream(sha256, { start, end }));
          expect(part.equals(bytes.subarray(start, end + 1))).toBe(true);
        },
      ),
      { numRuns: dialect === 'sqlite' ? 60 : 25 },
    );
  });
});

describe('chunkBytesFor', () => {
  it('keeps 1 MiB chunks under MariaDB defaults, shrinks them for a small max_allowed_packet, and refuses a tiny one', () => {
    expect(chunkBytesFor(16 * 1024 * 1024, 1 << 20)).toBe(1 << 20);
    expect(chunkBytesFor(1024 * 1024, 1 << 20)).toBe((1024 * 1024 - 64 * 1024) / 2);
    expect(() => chunkBytesFor(64 * 1024, 1 << 20)).toThrow(/max_allowed_packet .* too small/);
  });
});

describe('rechunk', () => {
  it('regroups pieces of any size into fixed-size chunks without losing a byte (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 50 }), { maxLength: 20 }),
        fc.integer({ min: 1, max: 40 }),
        async (parts, size) => {
          async function* source() {
            yield* parts;
          }
          const chunks: Buffer[] = [];
          for await (const chunk of rechunk(source(), size)) chunks.push(Buffer.from(chunk));
          expect(Buffer.concat(chunks).equals(Buffer.concat(parts))).toBe(true);
          expect(chunks.slice(0, -1).every((c) => c.length === size)).toBe(true);
          expect(chunks.every((c) => c.length > 0 && c.length <= size)).toBe(true);
        },
      ),
    );
  });
});
