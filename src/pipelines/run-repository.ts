import type { Kysely } from 'kysely';
import { newTokenId } from '../auth/token-secret.js';
import {
  type RunEvent,
  type RunStatus,
  type RunView,
  STEP_NAMES,
  type StepName,
  type StepStatus,
  type StepView,
} from '../contracts/runs.js';
import { FoglineError } from '../errors/fogline-error.js';
import type { Database, RunStepsTable, RunsTable } from '../store/schema.js';

export type RunClaimOutcome =
  | { outcome: 'claimed'; attempt: number; previousWorker: string | null; cancelRequested: boolean }
  | { outcome: 'finished'; status: string }
  | { outcome: 'held'; retryAfterMs: number; worker: string | null };

export interface NewRun {
  pipeline: string;
  dataset: { name: string; version: number };
  model: string;
  params: Record<string, unknown>;
  gate: 'beat-baseline' | 'none';
  createdBy: string | null;
}

/** A live worker's report recorded: whether to stop, and the run's pipeline and model (for its observer). */
export interface RunTouch {
  canceled: boolean;
  pipeline: string;
  model: string;
}

const FINISHED: RunStatus[] = ['succeeded', 'failed', 'canceled'];

/** Runs, their steps and their event log (epochs, messages), as the database keeps them. */
export class RunRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => number = Date.now,
  ) {}

  async create(run: NewRun): Promise<string> {
    const id = newTokenId();
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('runs')
        .values({
          id,
          pipeline: run.pipeline,
          dataset_name: run.dataset.name,
          dataset_version: run.dataset.version,
          model_name: run.model,
          params: JSON.stringify(run.params),
          gate: run.gate,
          status: 'queued',
          error: null,
          result: null,
          registered_version: null,
          created_at: this.now(),
          started_at: null,
          finished_at: null,
          created_by: run.createdBy,
          attempt: 0,
          worker: null,
          heartbeat_at: null,
          cancel_requested: 0,
          progress: null,
        })
        .execute();
      await trx
        .insertInto('run_steps')
        .values(
          STEP_NAMES.map((name, position) => ({
            run_id: id,
            position,
            name,
            status: 'pending',
            cache_key: null,
            summary: null,
            error: null,
            started_at: null,
            finished_at: null,
          })),
        )
        .execute();
    });
    return id;
  }

  async get(id: string): Promise<RunView> {
    const run = await this.db.selectFrom('runs').selectAll().where('id', '=', id).executeTakeFirst();
    if (!run) throw new FoglineError('FOGLINE_ERR_RUN_NOT_FOUND', `No run has the id "${id}" (fogline runs list)`);
    const steps = await this.db.selectFrom('run_steps').selectAll().where('run_id', '=', id).orderBy('position').execute();
    return toView(run, steps);
  }

  async list(options: { status?: RunStatus; limit?: number } = {}): Promise<RunView[]> {
    let query = this.db
      .selectFrom('runs')
      .selectAll()
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .limit(options.limit ?? 50);
    if (options.status) query = query.where('status', '=', options.status);
    const runs = await query.execute();
    if (runs.length === 0) return [];
    const steps = await this.db
      .selectFrom('run_steps')
      .selectAll()
      .where(
        'run_id',
        'in',
        runs.map((run) => run.id),
      )
      .orderBy('position')
      .execute();
    return runs.map((run) =>
      toView(
        run,
        steps.filter((step) => step.run_id === run.id),
      ),
    );
  }

  async setStatus(
    id: string,
    status: RunStatus,
    fields: { error?: string; result?: unknown; registeredVersion?: number | null } = {},
  ): Promise<void> {
    const now = this.now();
    await this.db
      .updateTable('runs')
      .set({
        status,
        ...(status === 'running' ? { started_at: now } : {}),
        ...(FINISHED.includes(status) ? { finished_at: now } : {}),
        ...(fields.error !== undefined ? { error: fields.error } : {}),
        ...(fields.result !== undefined ? { result: JSON.stringify(fields.result) } : {}),
        ...(fields.registeredVersion !== undefined ? { registered_version: fields.registeredVersion } : {}),
      })
      .where('id', '=', id)
      .execute();
  }

  async setStep(
    id: string,
    step: StepName,
    status: StepStatus,
    fields: { cacheKey?: string; summary?: unknown; error?: string } = {},
  ): Promise<void> {
    const now = this.now();
    await this.db
      .updateTable('run_steps')
      .set({
        status,
        ...(status === 'running' ? { started_at: now } : {}),
        ...(status !== 'running' && status !== 'pending' ? { finished_at: now } : {}),
        ...(status === 'cached' ? { started_at: now } : {}),
        ...(fields.cacheKey !== undefined ? { cache_key: fields.cacheKey } : {}),
        ...(fields.summary !== undefined ? { summary: JSON.stringify(fields.summary) } : {}),
        ...(fields.error !== undefined ? { error: fields.error } : {}),
      })
      .where('run_id', '=', id)
      .where('name', '=', step)
      .execute();
  }

  /** Marks every step that has not finished with `status` (a failed or canceled run). */
  async closeOpenSteps(id: string, status: StepStatus): Promise<void> {
    await this.db
      .updateTable('run_steps')
      .set({ status, finished_at: this.now() })
      .where('run_id', '=', id)
      .where('status', 'in', ['pending', 'running'])
      .execute();
  }

  async addEvent(id: string, step: string, kind: RunEvent['kind'], payload: Record<string, unknown>): Promise<void> {
    await this.db
      .insertInto('run_events')
      .values({ run_id: id, at: this.now(), step, kind, payload: JSON.stringify(payload) })
      .execute();
  }

  async events(id: string, after = 0): Promise<RunEvent[]> {
    await this.get(id);
    const rows = await this.db
      .selectFrom('run_events')
      .selectAll()
      .where('run_id', '=', id)
      .where('id', '>', after)
      .orderBy('id')
      .limit(1000)
      .execute();
    return rows.map((row) => ({
      id: Number(row.id),
      at: new Date(Number(row.at)).toISOString(),
      step: row.step,
      kind: row.kind as RunEvent['kind'],
      payload: JSON.parse(row.payload) as Record<string, unknown>,
    }));
  }

  /**
   * Takes the run for a new attempt: when it is queued, or running with no report for `staleMs`
   * (its worker was lost). The update is conditional on the attempt read, so of two workers
   * claiming at once one wins. A retaken run's steps start again from pending.
   */
  async claim(id: string, worker: string, staleMs: number): Promise<RunClaimOutcome> {
    const row = await this.db
      .selectFrom('runs')
      .select(['status', 'attempt', 'heartbeat_at', 'cancel_requested', 'worker'])
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) return { outcome: 'finished', status: 'deleted' };
    if (FINISHED.includes(row.status as RunStatus)) return { outcome: 'finished', status: row.status };
    const now = this.now();
    const heardAgo = row.heartbeat_at === null ? Infinity : now - Number(row.heartbeat_at);
    if (row.status === 'running' && heardAgo < staleMs) {
      return { outcome: 'held', retryAfterMs: Math.max(500, staleMs - heardAgo), worker: row.worker };
    }
    const attempt = Number(row.attempt) + 1;
    const taken = await this.db
      .updateTable('runs')
      .set({ status: 'running', attempt, worker, heartbeat_at: now, progress: null, started_at: now })
      .where('id', '=', id)
      .where('attempt', '=', Number(row.attempt))
      .where('status', 'in', ['queued', 'running'])
      // A report that landed since the read keeps the run with its worker.
      .where('heartbeat_at', row.heartbeat_at === null ? 'is' : '=', row.heartbeat_at)
      .executeTakeFirst();
    if (Number(taken.numUpdatedRows) !== 1) return { outcome: 'held', retryAfterMs: 1000, worker: null };
    if (attempt > 1) {
      await this.db
        .updateTable('run_steps')
        .set({ status: 'pending', started_at: null, finished_at: null, error: null })
        .where('run_id', '=', id)
        .execute();
    }
    return { outcome: 'claimed', attempt, previousWorker: row.worker, cancelRequested: row.cancel_requested !== 0 };
  }

  /**
   * A report from the worker holding `attempt`: it is alive. Throws when another attempt holds
   * the run or it has ended; answers whether someone asked to cancel it, and what the run trains.
   */
  async touch(id: string, attempt: number, progress?: unknown): Promise<RunTouch> {
    const updated = await this.db
      .updateTable('runs')
      .set({ heartbeat_at: this.now(), ...(progress !== undefined ? { progress: JSON.stringify(progress) } : {}) })
      .where('id', '=', id)
      .where('attempt', '=', attempt)
      .where('status', '=', 'running')
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) !== 1) {
      throw new FoglineError(
        'FOGLINE_ERR_RUN_ATTEMPT_STALE',
        `Run ${id} is no longer held by attempt ${attempt}: another worker took it over or it has ended (fogline runs get ${id})`,
      );
    }
    const row = await this.db
      .selectFrom('runs')
      .select(['cancel_requested', 'pipeline', 'model_name'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    return { canceled: row.cancel_requested !== 0, pipeline: row.pipeline, model: row.model_name };
  }

  /** The worker holding `attempt` stopped before the end: the run waits for the next worker at once. */
  async release(id: string, attempt: number): Promise<void> {
    await this.db
      .updateTable('runs')
      .set({ status: 'queued', heartbeat_at: null, progress: null })
      .where('id', '=', id)
      .where('attempt', '=', attempt)
      .where('status', '=', 'running')
      .execute();
  }

  async requestCancel(id: string): Promise<void> {
    await this.db.updateTable('runs').set({ cancel_requested: 1 }).where('id', '=', id).execute();
  }

  /** Runs of `pipeline` that a worker holds now, other than `except`. */
  async runningCount(pipeline: string, except: string): Promise<number> {
    const row = await this.db
      .selectFrom('runs')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('pipeline', '=', pipeline)
      .where('status', '=', 'running')
      .where('id', '!=', except)
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  /** How many runs of each pipeline wait (queued) or run now. */
  async unfinishedCounts(): Promise<{ pipeline: string; status: 'queued' | 'running'; runs: number }[]> {
    const rows = await this.db
      .selectFrom('runs')
      .select(['pipeline', 'status'])
      .select((eb) => eb.fn.countAll().as('count'))
      .where('status', 'in', ['queued', 'running'])
      .groupBy(['pipeline', 'status'])
      .execute();
    return rows.map((row) => ({ pipeline: row.pipeline, status: row.status as 'queued' | 'running', runs: Number(row.count) }));
  }

  /** Runs that a stopped control plane left behind as queued or running. */
  async unfinished(): Promise<{ id: string; status: string }[]> {
    return this.db.selectFrom('runs').select(['id', 'status']).where('status', 'in', ['queued', 'running']).orderBy('created_at').execute();
  }
}

function toView(run: RunsTable, steps: RunStepsTable[]): RunView {
  const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());
  return {
    id: run.id,
    pipeline: run.pipeline,
    dataset: { name: run.dataset_name, version: run.dataset_version },
    model: run.model_name,
    params: JSON.parse(run.params) as Record<string, unknown>,
    gate: run.gate === 'none' ? 'none' : 'beat-baseline',
    status: run.status as RunStatus,
    error: run.error,
    steps: steps.map((step): StepView => ({
      name: step.name as StepName,
      status: step.status as StepStatus,
      startedAt: iso(step.started_at),
      finishedAt: iso(step.finished_at),
      durationMs: step.started_at !== null && step.finished_at !== null ? Number(step.finished_at) - Number(step.started_at) : null,
      cacheKey: step.cache_key,
      summary: step.summary === null ? null : (JSON.parse(step.summary) as Record<string, unknown>),
      error: step.error,
    })),
    result: run.result === null ? null : (JSON.parse(run.result) as Record<string, unknown>),
    registeredVersion: run.registered_version,
    createdAt: new Date(Number(run.created_at)).toISOString(),
    startedAt: iso(run.started_at),
    finishedAt: iso(run.finished_at),
    createdBy: run.created_by,
    attempt: Number(run.attempt),
    worker: run.worker,
    progress: run.progress === null ? null : (JSON.parse(run.progress) as RunView['progress']),
  };
}
