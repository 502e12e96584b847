import type { Kysely } from 'kysely';

/**
 * Runs taken from a work queue by any worker: which attempt holds the run (a lost worker's later
 * reports are refused), who runs it, when it last reported, its latest progress, and a cancel
 * request the worker reads.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // One column per statement: SQLite's ALTER TABLE adds one at a time.
  await db.schema
    .alterTable('runs')
    .addColumn('attempt', 'integer', (col) => col.notNull().defaultTo(0))
    .execute();
  await db.schema.alterTable('runs').addColumn('worker', 'varchar(200)').execute();
  await db.schema.alterTable('runs').addColumn('heartbeat_at', 'bigint').execute();
  await db.schema
    .alterTable('runs')
    .addColumn('cancel_requested', 'integer', (col) => col.notNull().defaultTo(0))
    .execute();
  // The latest progress report (epoch, loss), for every replica's run view.
  await db.schema.alterTable('runs').addColumn('progress', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const column of ['progress', 'cancel_requested', 'heartbeat_at', 'worker', 'attempt'])
    await db.schema.alterTable('runs').dropColumn(column).execute();
}
