import { type Kysely, sql } from 'kysely';
import type { DialectName } from '../database-url.js';

export function audit(dialect: DialectName) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('audit_events')
        .addColumn('id', dialect === 'postgres' ? sql`bigserial` : 'integer', (col) =>
          dialect === 'postgres' ? col.primaryKey() : col.primaryKey().autoIncrement(),
        )
        .addColumn('at', 'bigint', (col) => col.notNull())
        .addColumn('actor_id', 'varchar(32)')
        .addColumn('actor_name', 'varchar(200)', (col) => col.notNull())
        .addColumn('actor_role', 'varchar(16)', (col) => col.notNull())
        .addColumn('action', 'varchar(300)', (col) => col.notNull())
        .addColumn('target', 'varchar(300)')
        .addColumn('status_code', 'integer', (col) => col.notNull())
        .execute();
      await db.schema.createIndex('audit_events_at').on('audit_events').column('at').execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('audit_events').execute();
    },
  };
}
