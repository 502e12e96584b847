import { type Kysely, sql } from 'kysely';
import type { DialectName } from '../database-url.js';

export function pipelineRuns(dialect: DialectName) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('runs')
        .addColumn('id', 'varchar(32)', (col) => col.primaryKey())
        .addColumn('pipeline', 'varchar(64)', (col) => col.notNull())
        .addColumn('dataset_name', 'varchar(200)', (col) => col.notNull())
        .addColumn('dataset_version', 'integer', (col) => col.notNull())
        .addColumn('model_name', 'varchar(200)', (col) => col.notNull())
        .addColumn('params', 'text', (col) => col.notNull())
        .addColumn('gate', 'varchar(16)', (col) => col.notNull())
        .addColumn('status', 'varchar(16)', (col) => col.notNull())
        .addColumn('error', 'text')
        .addColumn('result', 'text')
        .addColumn('registered_version', 'integer')
        .addColumn('created_at', 'bigint', (col) => col.notNull())
        .addColumn('started_at', 'bigint')
        .addColumn('finished_at', 'bigint')
        .addColumn('created_by', 'varchar(32)')
        .execute();
      await db.schema.createIndex('runs_status').on('runs').column('status').execute();

      await db.schema
        .createTable('run_steps')
        .addColumn('run_id', 'varchar(32)', (col) => col.notNull().references('runs.id'))
        .addColumn('position', 'integer', (col) => col.notNull())
        .addColumn('name', 'varchar(32)', (col) => col.notNull())
        .addColumn('status', 'varchar(16)', (col) => col.notNull())
        .addColumn('cache_key', 'varchar(64)')
        .addColumn('summary', 'text')
        .addColumn('error', 'text')
        .addColumn('started_at', 'bigint')
        .addColumn('finished_at', 'bigint')
        .addPrimaryKeyConstraint('run_steps_pk', ['run_id', 'position'])
        .execute();

      await db.schema
        .createTable('run_events')
        .addColumn('id', dialect === 'postgres' ? sql`bigserial` : 'integer', (col) =>
          dialect === 'postgres' ? col.primaryKey() : col.primaryKey().autoIncrement(),
        )
        .addColumn('run_id', 'varchar(32)', (col) => col.notNull().references('runs.id'))
        .addColumn('at', 'bigint', (col) => col.notNull())
        .addColumn('step', 'varchar(32)', (col) => col.notNull())
        .addColumn('kind', 'varchar(16)', (col) => col.notNull())
        .addColumn('payload', 'text', (col) => col.notNull())
        .execute();
      await db.schema.createIndex('run_events_run').on('run_events').columns(['run_id', 'id']).execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('run_events').execute();
      await db.schema.dropTable('run_steps').execute();
      await db.schema.dropTable('runs').execute();
    },
  };
}
