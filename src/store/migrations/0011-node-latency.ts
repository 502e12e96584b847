import type { Kysely } from 'kysely';

/** What each node last reported of its serving latency per deployment (p50, p99 over its last requests). */
export async function up(db: Kysely<unknown>): Promise<void> {
  // One column per statement: SQLite's ALTER TABLE adds one at a time.
  await db.schema.alterTable('deployment_node_status').addColumn('latency_p50_ms', 'double precision').execute();
  await db.schema.alterTable('deployment_node_status').addColumn('latency_p99_ms', 'double precision').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const column of ['latency_p50_ms', 'latency_p99_ms'])
    await db.schema.alterTable('deployment_node_status').dropColumn(column).execute();
}
