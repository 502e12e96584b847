import type { Kysely } from 'kysely';

/**
 * What an inference token may reach on agents: one row per scope, `deployment:<name>` or
 * `metrics`. A table of its own (not a column of `tokens`), so that it adds to the schema without
 * touching rows other migrations change. Depends on 0001 only (tokens).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('token_scopes')
    .addColumn('token_id', 'varchar(32)', (col) => col.notNull().references('tokens.id').onDelete('cascade'))
    .addColumn('scope', 'varchar(250)', (col) => col.notNull())
    .addPrimaryKeyConstraint('token_scopes_pk', ['token_id', 'scope'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('token_scopes').execute();
}
