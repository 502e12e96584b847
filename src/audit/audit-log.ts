import type { Kysely } from 'kysely';
import type { AuditEvent } from '../contracts/audit.js';
import type { Database } from '../store/schema.js';

export interface AuditEntry {
  actor: { id: string | null; name: string; role: string };
  action: string;
  target: string | null;
  statusCode: number;
}

/** Who changed what, and when: one row per mutating API call. */
export class AuditLog {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => number = Date.now,
  ) {}

  async record(entry: AuditEntry): Promise<void> {
    await this.db
      .insertInto('audit_events')
      .values({
        at: this.now(),
        actor_id: entry.actor.id,
        actor_name: entry.actor.name.slice(0, 200),
        actor_role: entry.actor.role,
        action: entry.action.slice(0, 300),
        target: entry.target?.slice(0, 300) ?? null,
        status_code: entry.statusCode,
      })
      .execute();
  }

  /** Newest first; `before` pages back by id. */
  async list(options: { limit?: number; before?: number } = {}): Promise<AuditEvent[]> {
    let query = this.db
      .selectFrom('audit_events')
      .selectAll()
      .orderBy('id', 'desc')
      .limit(options.limit ?? 100);
    if (options.before !== undefined) query = query.where('id', '<', options.before);
    return (await query.execute()).map((row) => ({
      id: Number(row.id),
      at: new Date(row.at).toISOString(),
      actor: { id: row.actor_id, name: row.actor_name, role: row.actor_role },
      action: row.action,
      target: row.target,
      statusCode: row.status_code,
    }));
  }
}
