import type { Kysely } from 'kysely';

/**
 * Where the control plane calls a node's agent (cloud replicas, session sockets, Prometheus
 * targets): fixed at enrolment or by an operator, never by a heartbeat (issue 14). Nodes
 * enrolled before this have none; their first heartbeat afterwards sets it once.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('nodes').addColumn('inference_url', 'varchar(2048)').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('nodes').dropColumn('inference_url').execute();
}
