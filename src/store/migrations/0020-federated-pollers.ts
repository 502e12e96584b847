import type { Kysely } from 'kysely';

/**
 * The nodes that ask for federated tasks, and the data kinds they hold: written by whichever
 * control-plane replica the poll reached, read by the leader's round coordinator when it samples
 * clients (src/federated/federated-pollers.ts). Depends on nothing.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('federated_pollers')
    .addColumn('node_id', 'varchar(64)', (col) => col.primaryKey())
    .addColumn('kinds', 'text')
    .addColumn('seen_at', 'bigint', (col) => col.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('federated_pollers').execute();
}
