import { type Kysely, sql } from 'kysely';

/**
 * Join tokens that decide what a node gets (role, labels, approval, credential lifetime), nodes
 * waiting for an operator's approval, and node credentials that rotate. Depends on 0001 only.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // Join tokens: JSON (src/nodes/join-policy.ts); null for other tokens and for join tokens that fix nothing.
  await db.schema.alterTable('tokens').addColumn('join_policy', 'text').execute();
  // One column per statement: SQLite's ALTER TABLE adds one at a time.
  await db.schema
    .alterTable('nodes')
    .addColumn('pending', 'integer', (col) => col.notNull().defaultTo(0))
    .execute();
  // The credential the node uses now, and the one handed to it but not used yet (a rotation under way).
  await db.schema.alterTable('nodes').addColumn('credential_id', 'varchar(32)').execute();
  await db.schema.alterTable('nodes').addColumn('next_credential_id', 'varchar(32)').execute();
  await db.schema
    .alterTable('nodes')
    .addColumn('rotate_credential', 'integer', (col) => col.notNull().defaultTo(0))
    .execute();
  await db.schema.alterTable('nodes').addColumn('credential_ttl_seconds', 'integer').execute();
  // Nodes enrolled before: their one live credential is the current one.
  await sql`update nodes set credential_id = (
      select max(tokens.id) from tokens
      where tokens.node_id = nodes.id and tokens.role = 'node' and tokens.revoked_at is null
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const column of ['pending', 'credential_id', 'next_credential_id', 'rotate_credential', 'credential_ttl_seconds'])
    await db.schema.alterTable('nodes').dropColumn(column).execute();
  await db.schema.alterTable('tokens').dropColumn('join_policy').execute();
}
