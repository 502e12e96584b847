import type { Kysely } from 'kysely';

/**
 * Device data over MQTT (issue 18): a deployment's optional binding (input filter, output
 * template, format, resource, dead-letter topic) as JSON, and what each node last reported of it
 * (messages, predictions, dead letters, buffered results) as JSON. Depends on nothing.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('deployments').addColumn('mqtt', 'text').execute();
  await db.schema.alterTable('deployment_node_status').addColumn('mqtt_counts', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('deployments').dropColumn('mqtt').execute();
  await db.schema.alterTable('deployment_node_status').dropColumn('mqtt_counts').execute();
}
