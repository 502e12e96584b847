import type { Kysely } from 'kysely';

/**
 * Joint inference (issue 7): a deployment's optional joint setting (cloud model selector, rule,
 * threshold) as JSON, and what each node last reported of it (rows easy / hard / fallback, and
 * the labelled rows the edge and the final answers got right) as JSON.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('deployments').addColumn('joint', 'text').execute();
  await db.schema.alterTable('deployment_node_status').addColumn('joint_counts', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('deployments').dropColumn('joint').execute();
  await db.schema.alterTable('deployment_node_status').dropColumn('joint_counts').execute();
}
