import type { Kysely } from 'kysely';

/**
 * Leases that several control-plane replicas contend for (src/cluster/leader-lease.ts): one row
 * per lease, held by one replica until `expires_at` (epoch ms on the database's clock). Who holds
 * it (host, pid, URL) is kept for the messages that name the holder. Depends on nothing.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('leases')
    .addColumn('name', 'varchar(100)', (col) => col.primaryKey())
    .addColumn('holder', 'varchar(100)', (col) => col.notNull())
    .addColumn('host', 'varchar(255)', (col) => col.notNull())
    .addColumn('pid', 'integer', (col) => col.notNull())
    .addColumn('expires_at', 'bigint', (col) => col.notNull())
    .addColumn('acquired_at', 'bigint', (col) => col.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('leases').execute();
}
