import { type Kysely, sql } from 'kysely';
import type { DialectName } from '../database-url.js';

/** Binary column types: LONGBLOB on MariaDB (BLOB stops at 64 KiB), BYTEA on PostgreSQL. */
const BYTES = { sqlite: sql`blob`, postgres: sql`bytea`, mysql: sql`longblob` } as const;

/**
 * Artifacts kept in the database, for control planes that share it (src/registry/database-artifact-store.ts):
 * - `artifact_blobs`: one row per upload, written first; it becomes the artifact (sha256, size and
 *   commit time set, unique per space and digest) only once every chunk is in, so an upload cut
 *   short is never visible, and one abandoned for a day is swept;
 * - `artifact_chunks`: the bytes, in numbered chunks of the blob's chunk size.
 * Depends on nothing.
 */
export function artifactChunks(dialect: DialectName) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('artifact_blobs')
        .addColumn('id', 'varchar(32)', (col) => col.primaryKey())
        /** Which store: models, datasets, federated (one digest may sit in two stores, removed separately). */
        .addColumn('space', 'varchar(32)', (col) => col.notNull())
        .addColumn('sha256', 'char(64)')
        .addColumn('size_bytes', 'bigint')
        .addColumn('chunk_bytes', 'integer', (col) => col.notNull())
        .addColumn('started_at', 'bigint', (col) => col.notNull())
        .addColumn('committed_at', 'bigint')
        .execute();
      // NULL digests (uploads in progress) do not collide on any of the three databases.
      await db.schema.createIndex('artifact_blobs_digest').on('artifact_blobs').columns(['space', 'sha256']).unique().execute();
      await db.schema.createIndex('artifact_blobs_started').on('artifact_blobs').columns(['committed_at', 'started_at']).execute();

      await db.schema
        .createTable('artifact_chunks')
        .addColumn('blob_id', 'varchar(32)', (col) => col.notNull().references('artifact_blobs.id').onDelete('cascade'))
        .addColumn('seq', 'integer', (col) => col.notNull())
        .addColumn('bytes', BYTES[dialect], (col) => col.notNull())
        .addPrimaryKeyConstraint('artifact_chunks_pk', ['blob_id', 'seq'])
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('artifact_chunks').execute();
      await db.schema.dropTable('artifact_blobs').execute();
    },
  };
}
