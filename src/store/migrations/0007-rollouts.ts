import type { Kysely } from 'kysely';

/** Rollout strategies' settings and persisted state; per-node request counters for canary soaks. */
export async function up(db: Kysely<unknown>): Promise<void> {
  // One column per statement: SQLite's ALTER TABLE adds one at a time.
  await db.schema
    .alterTable('deployments')
    .addColumn('canary_percent', 'integer', (col) => col.notNull().defaultTo(20))
    .execute();
  await db.schema
    .alterTable('deployments')
    .addColumn('soak_seconds', 'integer', (col) => col.notNull().defaultTo(60))
    .execute();
  await db.schema
    .alterTable('deployments')
    .addColumn('max_error_rate', 'double precision', (col) => col.notNull().defaultTo(0.01))
    .execute();
  await db.schema.alterTable('deployments').addColumn('rollout', 'text').execute();
  await db.schema
    .alterTable('deployments')
    .addColumn('rollout_revision', 'integer', (col) => col.notNull().defaultTo(0))
    .execute();
  await db.schema
    .alterTable('deployment_node_status')
    .addColumn('requests', 'bigint', (col) => col.notNull().defaultTo(0))
    .execute();
  await db.schema
    .alterTable('deployment_node_status')
    .addColumn('errors', 'bigint', (col) => col.notNull().defaultTo(0))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const column of ['requests', 'errors']) await db.schema.alterTable('deployment_node_status').dropColumn(column).execute();
  for (const column of ['canary_percent', 'soak_seconds', 'max_error_rate', 'rollout', 'rollout_revision'])
    await db.schema.alterTable('deployments').dropColumn(column).execute();
}
