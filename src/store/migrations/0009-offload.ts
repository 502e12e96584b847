import type { Kysely } from 'kysely';

/** Per-deployment offload policy (edge-only, cloud-only, auto) and the latency target `auto` keeps to. */
export async function up(db: Kysely<unknown>): Promise<void> {
  // One column per statement: SQLite's ALTER TABLE adds one at a time.
  await db.schema
    .alterTable('deployments')
    .addColumn('offload_policy', 'varchar(16)', (col) => col.notNull().defaultTo('edge-only'))
    .execute();
  await db.schema
    .alterTable('deployments')
    .addColumn('latency_target_ms', 'integer', (col) => col.notNull().defaultTo(50))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const column of ['offload_policy', 'latency_target_ms']) await db.schema.alterTable('deployments').dropColumn(column).execute();
}
