import type { Kysely } from 'kysely';

/**
 * Inference sessions (so a restarted control plane still lists them and keeps to the per-node
 * limit), and the nodes a deployment was loaded on on demand for a session, outside its selector.
 * Depends on 0006 only (deployments).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('inference_sessions')
    .addColumn('id', 'varchar(64)', (col) => col.primaryKey())
    .addColumn('deployment_name', 'varchar(200)', (col) => col.notNull())
    .addColumn('kind', 'varchar(16)', (col) => col.notNull())
    .addColumn('placement', 'varchar(16)', (col) => col.notNull())
    .addColumn('node_id', 'varchar(32)')
    .addColumn('node_name', 'varchar(253)')
    .addColumn('state', 'varchar(16)', (col) => col.notNull())
    .addColumn('reason', 'text', (col) => col.notNull())
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addColumn('expires_at', 'bigint', (col) => col.notNull())
    .addColumn('connected_at', 'bigint')
    .addColumn('closed_at', 'bigint')
    .addColumn('close_reason', 'varchar(200)')
    .execute();
  await db.schema.createIndex('inference_sessions_state').on('inference_sessions').columns(['state', 'node_id']).execute();

  await db.schema
    .createTable('on_demand_placements')
    .addColumn('deployment_name', 'varchar(200)', (col) => col.notNull().references('deployments.name').onDelete('cascade'))
    .addColumn('node_id', 'varchar(32)', (col) => col.notNull())
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    /** The last time a session was open on the node for the deployment: released an idle period after. */
    .addColumn('last_used_at', 'bigint', (col) => col.notNull())
    .addPrimaryKeyConstraint('on_demand_placements_pk', ['deployment_name', 'node_id'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('on_demand_placements').execute();
  await db.schema.dropTable('inference_sessions').execute();
}
