import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('deployments')
    .addColumn('name', 'varchar(200)', (col) => col.primaryKey())
    .addColumn('model_selector', 'varchar(300)', (col) => col.notNull())
    .addColumn('node_selector', 'text', (col) => col.notNull())
    .addColumn('strategy', 'varchar(16)', (col) => col.notNull())
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addColumn('updated_at', 'bigint', (col) => col.notNull())
    .addColumn('created_by', 'varchar(32)')
    .execute();

  await db.schema
    .createTable('deployment_node_status')
    .addColumn('deployment_name', 'varchar(200)', (col) => col.notNull().references('deployments.name').onDelete('cascade'))
    .addColumn('node_id', 'varchar(32)', (col) => col.notNull())
    .addColumn('version', 'integer')
    .addColumn('serving_version', 'integer')
    .addColumn('state', 'varchar(16)', (col) => col.notNull())
    .addColumn('reason', 'text')
    .addColumn('updated_at', 'bigint', (col) => col.notNull())
    .addPrimaryKeyConstraint('deployment_node_status_pk', ['deployment_name', 'node_id'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('deployment_node_status').execute();
  await db.schema.dropTable('deployments').execute();
}
