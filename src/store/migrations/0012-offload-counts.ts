import type { Kysely } from 'kysely';

/** What each node last reported of where a deployment's requests ran: on the node, or offloaded to the cloud. */
export async function up(db: Kysely<unknown>): Promise<void> {
  // One column per statement: SQLite's ALTER TABLE adds one at a time.
  await db.schema
    .alterTable('deployment_node_status')
    .addColumn('local_requests', 'bigint', (col) => col.notNull().defaultTo(0))
    .execute();
  await db.schema
    .alterTable('deployment_node_status')
    .addColumn('offloaded_requests', 'bigint', (col) => col.notNull().defaultTo(0))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const column of ['local_requests', 'offloaded_requests'])
    await db.schema.alterTable('deployment_node_status').dropColumn(column).execute();
}
