import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('models')
    .addColumn('name', 'varchar(200)', (col) => col.primaryKey())
    .addColumn('description', 'text')
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addColumn('updated_at', 'bigint', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('model_versions')
    .addColumn('model_name', 'varchar(200)', (col) => col.notNull().references('models.name'))
    .addColumn('version', 'integer', (col) => col.notNull())
    .addColumn('artifact_sha256', 'varchar(64)', (col) => col.notNull())
    .addColumn('artifact_size', 'bigint', (col) => col.notNull())
    .addColumn('bundle_signature', 'varchar(200)', (col) => col.notNull())
    .addColumn('framework', 'varchar(32)', (col) => col.notNull())
    .addColumn('kind', 'varchar(64)', (col) => col.notNull())
    .addColumn('io_signature', 'text', (col) => col.notNull())
    .addColumn('metrics', 'text', (col) => col.notNull())
    .addColumn('lineage', 'text', (col) => col.notNull())
    .addColumn('tags', 'text', (col) => col.notNull())
    .addColumn('description', 'text')
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addColumn('created_by', 'varchar(32)')
    .addPrimaryKeyConstraint('model_versions_pk', ['model_name', 'version'])
    .execute();

  await db.schema
    .createTable('model_aliases')
    .addColumn('model_name', 'varchar(200)', (col) => col.notNull().references('models.name'))
    .addColumn('alias', 'varchar(63)', (col) => col.notNull())
    .addColumn('version', 'integer', (col) => col.notNull())
    .addColumn('updated_at', 'bigint', (col) => col.notNull())
    .addPrimaryKeyConstraint('model_aliases_pk', ['model_name', 'alias'])
    .addForeignKeyConstraint('model_aliases_version_fk', ['model_name', 'version'], 'model_versions', ['model_name', 'version'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('model_aliases').execute();
  await db.schema.dropTable('model_versions').execute();
  await db.schema.dropTable('models').execute();
}
