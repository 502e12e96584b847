import type { Kysely } from 'kysely';
import type {
  FederatedJobConfig,
  FederatedJobListQuery,
  FederatedJobStatus,
  FederatedJobView,
  FederatedRoundView,
  RoundClient,
  RoundMetrics,
  RoundReport,
  RoundStatus,
} from '../contracts/federated.js';
import { FoglineError } from '../errors/fogline-error.js';
import type { Database, FlJobsTable, FlRoundsTable, FlUpdatesTable } from '../store/schema.js';
import { isUniqueViolation } from '../store/unique-violation.js';

export interface NewJob {
  id: string;
  model: string;
  datasetKind: FederatedJobView['datasetKind'];
  config: FederatedJobConfig;
  modelSpec: object;
  weightsSha256: string;
  createdBy: string | null;
}

export interface NewUpdate {
  jobId: string;
  round: number;
  attempt: number;
  nodeId: string;
  nodeName: string;
  status: RoundReport['status'] | 'rejected';
  reason: string | null;
  examples: number;
  bytes: number;
  metrics: Record<string, unknown>;
  updateSha256: string | null;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(Number(ms)).toISOString());

/** Federated jobs, rounds and updates in the database (SQLite, PostgreSQL, MariaDB). */
export class FederatedJobRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => number = Date.now,
  ) {}

  async insert(job: NewJob): Promise<void> {
    const now = this.now();
    await this.db
      .insertInto('fl_jobs')
      .values({
        id: job.id,
        model_name: job.model,
        dataset_kind: job.datasetKind,
        config: JSON.stringify(job.config),
        model_spec: JSON.stringify(job.modelSpec),
        status: 'running',
        rounds_completed: 0,
        weights_sha256: job.weightsSha256,
        optimizer_sha256: null,
        error: null,
        registered_version: null,
        created_at: now,
        updated_at: now,
        finished_at: null,
        created_by: job.createdBy,
      })
      .execute();
  }

  async row(id: string): Promise<FlJobsTable> {
    const row = await this.db.selectFrom('fl_jobs').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new FoglineError('FOGLINE_ERR_FL_JOB_NOT_FOUND', `No federated job has the id "${id}" (fogline fl list)`);
    return row;
  }

  async rows(query: FederatedJobListQuery = {}): Promise<FlJobsTable[]> {
    let select = this.db
      .selectFrom('fl_jobs')
      .selectAll()
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(query.limit ?? 50);
    if (query.status) select = select.where('status', '=', query.status);
    return select.execute();
  }

  async runningIds(): Promise<string[]> {
    return (await this.db.selectFrom('fl_jobs').select('id').where('status', '=', 'running').orderBy('created_at').execute()).map(
      (r) => r.id,
    );
  }

  async rounds(jobId: string): Promise<FlRoundsTable[]> {
    return this.db.selectFrom('fl_rounds').selectAll().where('job_id', '=', jobId).orderBy('round').orderBy('attempt').execute();
  }

  async openRound(jobId: string): Promise<FlRoundsTable | undefined> {
    return this.db.selectFrom('fl_rounds').selectAll().where('job_id', '=', jobId).where('status', '=', 'open').executeTakeFirst();
  }

  async failedAttempts(jobId: string, round: number): Promise<number> {
    const row = await this.db
      .selectFrom('fl_rounds')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('job_id', '=', jobId)
      .where('round', '=', round)
      .where('status', '=', 'failed')
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async updates(jobId: string, round?: number, attempt?: number): Promise<FlUpdatesTable[]> {
    let select = this.db.selectFrom('fl_updates').selectAll().where('job_id', '=', jobId);
    if (round !== undefined) select = select.where('round', '=', round);
    if (attempt !== undefined) select = select.where('attempt', '=', attempt);
    return select.orderBy('round').orderBy('attempt').orderBy('received_at').orderBy('node_id').execute();
  }

  /** Whether a stored file is still needed: a job's current weights or optimiser state, or an update of an open round. */
  async isReferenced(sha256: string): Promise<boolean> {
    const job = await this.db
      .selectFrom('fl_jobs')
      .select('id')
      .where((eb) => eb.or([eb('weights_sha256', '=', sha256), eb('optimizer_sha256', '=', sha256)]))
      .executeTakeFirst();
    if (job) return true;
    const update = await this.db
      .selectFrom('fl_updates')
      .innerJoin('fl_rounds', (join) =>
        join
          .onRef('fl_rounds.job_id', '=', 'fl_updates.job_id')
          .onRef('fl_rounds.round', '=', 'fl_updates.round')
          .onRef('fl_rounds.attempt', '=', 'fl_updates.attempt'),
      )
      .select('fl_updates.node_id')
      .where('fl_updates.update_sha256', '=', sha256)
      .where('fl_rounds.status', '=', 'open')
      .executeTakeFirst();
    return update !== undefined;
  }

  /** Opens an attempt of a round; false when one is already open (another tick won the race). */
  async startRound(jobId: string, round: number, attempt: number, sampled: RoundClient[], deadlineAt: number): Promise<boolean> {
    try {
      await this.db
        .insertInto('fl_rounds')
        .values({
          job_id: jobId,
          round,
          attempt,
          status: 'open',
          sampled: JSON.stringify(sampled),
          metrics: null,
          reason: null,
          started_at: this.now(),
          deadline_at: deadlineAt,
          finished_at: null,
        })
        .execute();
      await this.touch(jobId);
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  /** Records a client's update once per attempt; false when this node already sent one. */
  async recordUpdate(update: NewUpdate): Promise<boolean> {
    try {
      await this.db
        .insertInto('fl_updates')
        .values({
          job_id: update.jobId,
          round: update.round,
          attempt: update.attempt,
          node_id: update.nodeId,
          node_name: update.nodeName,
          status: update.status,
          reason: update.reason,
          examples: update.examples,
          bytes: update.bytes,
          metrics: JSON.stringify(update.metrics),
          update_sha256: update.updateSha256,
          received_at: this.now(),
        })
        .execute();
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  /** Closes an attempt without aggregating (failed, canceled). */
  async closeRound(jobId: string, round: number, attempt: number, status: Exclude<RoundStatus, 'open'>, reason: string | null) {
    await this.db
      .updateTable('fl_rounds')
      .set({ status, reason, finished_at: this.now() })
      .where('job_id', '=', jobId)
      .where('round', '=', round)
      .where('attempt', '=', attempt)
      .where('status', '=', 'open')
      .execute();
    await this.touch(jobId);
  }

  /**
   * The round's result and the job's new global weights in one transaction: after a restart the
   * job resumes from exactly this round. False if the round was no longer open.
   */
  async completeRound(
    jobId: string,
    round: number,
    attempt: number,
    metrics: RoundMetrics,
    weightsSha256: string,
    optimizerSha256: string | null,
  ): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const now = this.now();
      const closed = await trx
        .updateTable('fl_rounds')
        .set({ status: 'aggregated', metrics: JSON.stringify(metrics), finished_at: now })
        .where('job_id', '=', jobId)
        .where('round', '=', round)
        .where('attempt', '=', attempt)
        .where('status', '=', 'open')
        .executeTakeFirst();
      if (Number(closed.numUpdatedRows) === 0) return false;
      await trx
        .updateTable('fl_jobs')
        .set({ rounds_completed: round, weights_sha256: weightsSha256, optimizer_sha256: optimizerSha256, updated_at: now })
        .where('id', '=', jobId)
        .where('status', '=', 'running')
        .execute();
      return true;
    });
  }

  /** Ends a running job; false when it had already ended. */
  async finish(
    jobId: string,
    status: Exclude<FederatedJobStatus, 'running'>,
    result: { error?: string | null; registeredVersion?: number | null } = {},
  ): Promise<boolean> {
    const now = this.now();
    const updated = await this.db
      .updateTable('fl_jobs')
      .set({ status, error: result.error ?? null, registered_version: result.registeredVersion ?? null, updated_at: now, finished_at: now })
      .where('id', '=', jobId)
      .where('status', '=', 'running')
      .executeTakeFirst();
    if (status !== 'succeeded') {
      await this.db
        .updateTable('fl_rounds')
        .set({ status: 'canceled', reason: `the job ${status === 'canceled' ? 'was canceled' : 'failed'}`, finished_at: now })
        .where('job_id', '=', jobId)
        .where('status', '=', 'open')
        .execute();
    }
    return Number(updated.numUpdatedRows) > 0;
  }

  private async touch(jobId: string): Promise<void> {
    await this.db.updateTable('fl_jobs').set({ updated_at: this.now() }).where('id', '=', jobId).execute();
  }
}

/** The API's view of a job; `rounds` (with reports) when the round rows are given. */
export function jobView(row: FlJobsTable, phase: string, rounds?: { rows: FlRoundsTable[]; updates: FlUpdatesTable[] }): FederatedJobView {
  return {
    id: row.id,
    model: row.model_name,
    datasetKind: row.dataset_kind as FederatedJobView['datasetKind'],
    status: row.status as FederatedJobStatus,
    config: JSON.parse(row.config) as FederatedJobConfig,
    roundsCompleted: Number(row.rounds_completed),
    phase,
    error: row.error,
    registeredVersion: row.registered_version === null ? null : Number(row.registered_version),
    ...(rounds ? { rounds: rounds.rows.map((r) => roundView(r, rounds.updates)) } : {}),
    createdAt: iso(row.created_at)!,
    updatedAt: iso(row.updated_at)!,
    finishedAt: iso(row.finished_at),
    createdBy: row.created_by,
  };
}

function roundView(row: FlRoundsTable, updates: FlUpdatesTable[]): FederatedRoundView {
  const mine = updates.filter((u) => Number(u.round) === Number(row.round) && Number(u.attempt) === Number(row.attempt));
  const sampled = JSON.parse(row.sampled) as RoundClient[];
  const accepted = new Set(mine.filter((u) => u.status === 'accepted').map((u) => u.node_id));
  return {
    round: Number(row.round),
    attempt: Number(row.attempt),
    status: row.status as RoundStatus,
    sampled,
    reports: mine.map((u) => ({
      nodeId: u.node_id,
      nodeName: u.node_name,
      status: u.status as RoundReport['status'],
      reason: u.reason,
      examples: Number(u.examples),
      bytes: Number(u.bytes),
      metrics: JSON.parse(u.metrics) as Record<string, unknown>,
      receivedAt: iso(u.received_at)!,
    })),
    dropped: row.status === 'open' ? [] : sampled.filter((c) => !accepted.has(c.nodeId)),
    metrics: row.metrics === null ? null : (JSON.parse(row.metrics) as RoundMetrics),
    reason: row.reason,
    startedAt: iso(row.started_at)!,
    deadlineAt: iso(row.deadline_at)!,
    finishedAt: iso(row.finished_at),
  };
}
