import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('tokens')
    .addColumn('id', 'varchar(32)', (col) => col.primaryKey())
    .addColumn('name', 'varchar(200)', (col) => col.notNull())
    .addColumn('role', 'varchar(16)', (col) => col.notNull())
    .addColumn('secret_hash', 'varchar(64)', (col) => col.notNull())
    .addColumn('node_id', 'varchar(32)')
    .addColumn('expires_at', 'bigint')
    .addColumn('max_uses', 'integer')
    .addColumn('uses', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('revoked_at', 'bigint')
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addColumn('created_by', 'varchar(32)')
    .execute();
  await db.schema.createIndex('tokens_node_id').on('tokens').column('node_id').execute();

  await db.schema
    .createTable('nodes')
    .addColumn('id', 'varchar(32)', (col) => col.primaryKey())
    .addColumn('name', 'varchar(253)', (col) => col.notNull().unique())
    .addColumn('role', 'varchar(16)', (col) => col.notNull())
    .addColumn('labels', 'text', (col) => col.notNull())
    .addColumn('cordoned', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('resources', 'text')
    .addColumn('agent', 'text')
    .addColumn('last_heartbeat_at', 'bigint')
    .addColumn('enrolled_at', 'bigint', (col) => col.notNull())
    .addColumn('updated_at', 'bigint', (col) => col.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('nodes').execute();
  await db.schema.dropTable('tokens').execute();
}
