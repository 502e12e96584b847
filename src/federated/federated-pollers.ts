import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import { isUniqueViolation } from '../store/unique-violation.js';

/** A node that asked for federated tasks: when last, and the data kinds it holds (undefined: any). */
export interface Poller {
  seenAt: number;
  kinds: readonly string[] | undefined;
}

/** A node's poll is written at most this often by one replica (long polls repeat every few seconds). */
const WRITE_EVERY_MS = 5_000;

/**
 * Who polls for federated tasks, kept in the database: agents may long-poll any control-plane
 * replica, and the leader's round coordinator samples clients from all of them.
 */
export class FederatedPollers {
  private readonly written = new Map<string, { at: number; kinds: string | null }>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => number,
  ) {}

  /** Records a poll (throttled per node, but at once when its kinds change). */
  async touch(nodeId: string, kinds: readonly string[] | undefined): Promise<void> {
    const at = this.now();
    const kindsJson = kinds ? JSON.stringify(kinds) : null;
    const last = this.written.get(nodeId);
    if (last && at - last.at < WRITE_EVERY_MS && last.kinds === kindsJson) return;
    this.written.set(nodeId, { at, kinds: kindsJson });
    const updated = await this.db
      .updateTable('federated_pollers')
      .set({ seen_at: at, kinds: kindsJson })
      .where('node_id', '=', nodeId)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) > 0) return;
    // Portable "insert unless there": a poll through another replica may have inserted it meanwhile.
    const exists = await this.db.selectFrom('federated_pollers').select('node_id').where('node_id', '=', nodeId).executeTakeFirst();
    if (exists) return;
    await this.db
      .insertInto('federated_pollers')
      .values({ node_id: nodeId, kinds: kindsJson, seen_at: at })
      .execute()
      .catch((error: unknown) => {
        // Lost the race to another replica's insert: its row is as good as ours.
        if (!isUniqueViolation(error)) throw error;
      });
  }

  /** Forgets a node's polls (it was dropped from a round): it counts again once it polls again. */
  async forget(nodeId: string): Promise<void> {
    this.written.delete(nodeId);
    await this.db.deleteFrom('federated_pollers').where('node_id', '=', nodeId).execute();
  }

  /** Every node that polled since `since`. */
  async since(since: number): Promise<Map<string, Poller>> {
    const rows = await this.db.selectFrom('federated_pollers').selectAll().where('seen_at', '>=', since).execute();
    return new Map(
      rows.map((row) => [
        row.node_id,
        { seenAt: Number(row.seen_at), kinds: row.kinds === null ? undefined : (JSON.parse(row.kinds) as string[]) },
      ]),
    );
  }
}
