import type { Kysely } from 'kysely';

/**
 * Federated jobs, their rounds (one row per attempt) and the clients' updates. Global weights and
 * updates are files in the data dir's federated store, named by sha256; rows hold the digests.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('fl_jobs')
    .addColumn('id', 'varchar(32)', (col) => col.primaryKey())
    .addColumn('model_name', 'varchar(200)', (col) => col.notNull())
    .addColumn('dataset_kind', 'varchar(32)', (col) => col.notNull())
    .addColumn('config', 'text', (col) => col.notNull())
    .addColumn('model_spec', 'text', (col) => col.notNull())
    .addColumn('status', 'varchar(16)', (col) => col.notNull())
    .addColumn('rounds_completed', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('weights_sha256', 'varchar(64)', (col) => col.notNull())
    .addColumn('optimizer_sha256', 'varchar(64)')
    .addColumn('error', 'text')
    .addColumn('registered_version', 'integer')
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addColumn('updated_at', 'bigint', (col) => col.notNull())
    .addColumn('finished_at', 'bigint')
    .addColumn('created_by', 'varchar(32)')
    .execute();
  await db.schema.createIndex('fl_jobs_status').on('fl_jobs').column('status').execute();

  await db.schema
    .createTable('fl_rounds')
    .addColumn('job_id', 'varchar(32)', (col) => col.notNull().references('fl_jobs.id'))
    .addColumn('round', 'integer', (col) => col.notNull())
    .addColumn('attempt', 'integer', (col) => col.notNull())
    .addColumn('status', 'varchar(16)', (col) => col.notNull())
    .addColumn('sampled', 'text', (col) => col.notNull())
    .addColumn('metrics', 'text')
    .addColumn('reason', 'text')
    .addColumn('started_at', 'bigint', (col) => col.notNull())
    .addColumn('deadline_at', 'bigint', (col) => col.notNull())
    .addColumn('finished_at', 'bigint')
    .addPrimaryKeyConstraint('fl_rounds_pk', ['job_id', 'round', 'attempt'])
    .execute();

  await db.schema
    .createTable('fl_updates')
    .addColumn('job_id', 'varchar(32)', (col) => col.notNull())
    .addColumn('round', 'integer', (col) => col.notNull())
    .addColumn('attempt', 'integer', (col) => col.notNull())
    .addColumn('node_id', 'varchar(64)', (col) => col.notNull())
    .addColumn('node_name', 'varchar(253)', (col) => col.notNull())
    .addColumn('status', 'varchar(16)', (col) => col.notNull())
    .addColumn('reason', 'text')
    .addColumn('examples', 'integer', (col) => col.notNull())
    .addColumn('bytes', 'integer', (col) => col.notNull())
    .addColumn('metrics', 'text', (col) => col.notNull())
    .addColumn('update_sha256', 'varchar(64)')
    .addColumn('received_at', 'bigint', (col) => col.notNull())
    .addPrimaryKeyConstraint('fl_updates_pk', ['job_id', 'round', 'attempt', 'node_id'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('fl_updates').execute();
  await db.schema.dropTable('fl_rounds').execute();
  await db.schema.dropTable('fl_jobs').execute();
}
