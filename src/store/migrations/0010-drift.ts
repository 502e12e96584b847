import type { Kysely } from 'kysely';

/**
 * Drift: one policy per deployment (its settings as JSON), the newest summary each node reported
 * per deployment (aggregates only: one row per node, replaced on every report), and drift events
 * with their retraining round (run, challenger, evaluation, timeline).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('drift_policies')
    .addColumn('deployment_name', 'varchar(200)', (col) => col.primaryKey())
    .addColumn('config', 'text', (col) => col.notNull())
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addColumn('updated_at', 'bigint', (col) => col.notNull())
    .addColumn('updated_by', 'varchar(32)')
    .execute();

  await db.schema
    .createTable('drift_reports')
    .addColumn('deployment_name', 'varchar(200)', (col) => col.notNull())
    .addColumn('node_id', 'varchar(32)', (col) => col.notNull())
    .addColumn('model', 'varchar(200)', (col) => col.notNull())
    .addColumn('version', 'integer', (col) => col.notNull())
    .addColumn('summary', 'text', (col) => col.notNull())
    .addColumn('received_at', 'bigint', (col) => col.notNull())
    .addPrimaryKeyConstraint('drift_reports_pk', ['deployment_name', 'node_id'])
    .execute();

  await db.schema
    .createTable('drift_events')
    .addColumn('id', 'varchar(32)', (col) => col.primaryKey())
    .addColumn('deployment_name', 'varchar(200)', (col) => col.notNull())
    .addColumn('trigger_kind', 'varchar(16)', (col) => col.notNull())
    .addColumn('node_id', 'varchar(32)')
    .addColumn('model', 'varchar(200)', (col) => col.notNull())
    .addColumn('version', 'integer', (col) => col.notNull())
    .addColumn('findings', 'text', (col) => col.notNull())
    .addColumn('action', 'varchar(32)', (col) => col.notNull())
    .addColumn('status', 'varchar(16)', (col) => col.notNull())
    .addColumn('run_id', 'varchar(32)')
    .addColumn('challenger_version', 'integer')
    .addColumn('evaluation', 'text')
    .addColumn('timeline', 'text', (col) => col.notNull())
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addColumn('updated_at', 'bigint', (col) => col.notNull())
    .execute();
  await db.schema.createIndex('drift_events_deployment').on('drift_events').columns(['deployment_name', 'created_at']).execute();
  await db.schema.createIndex('drift_events_status').on('drift_events').column('status').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['drift_events', 'drift_reports', 'drift_policies']) await db.schema.dropTable(table).execute();
}
