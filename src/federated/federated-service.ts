import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type {
  FederatedJobConfig,
  FederatedJobListQuery,
  FederatedJobView,
  FederatedTask,
  FederatedUpdateReceipt,
  RoundClient,
  StartFederatedJobRequest,
} from '../contracts/federated.js';
import type { DatasetCatalog } from '../datasets/dataset-catalog.js';
import { FoglineError } from '../errors/fogline-error.js';
import { isMlInputError } from '../ml/errors.js';
import { aggregate, checkUpdate, clipToNorm, l2Norm, type ServerOptimizerState, type ServerStrategy } from '../ml/federated/aggregation.js';
import { type FederatedModelSpec, initialWeights } from '../ml/federated/federated-model.js';
import { decodeUpdate, encodeUpdate } from '../ml/federated/update-codec.js';
import { takesNewWork } from '../nodes/node-eligibility.js';
import type { NodeRegistry } from '../nodes/node-registry.js';
import { type ArtifactStore, FolderArtifactStore } from '../registry/artifact-store.js';
import type { ModelRegistry } from '../registry/model-registry.js';
import type { Database } from '../store/schema.js';
import type { Kysely } from 'kysely';
import { CentralEvaluation } from './central-evaluation.js';
import { resolveJobConfig, specFor } from './job-config.js';
import { FederatedJobRepository, jobView } from './job-repository.js';
import { registerFinalModel } from './final-model.js';
import { roundMetrics } from './round-metrics.js';
import { type JobState, nextStep } from './round-policy.js';
import { FederatedPollers } from './federated-pollers.js';

/** How often a task long poll on a replica that does not coordinate rounds looks for one. */
const FOLLOWER_RECHECK_MS = 1000;

export interface FederatedSettings {
  /** The federated store (global weights, optimiser state, updates) lives in <dataDir>/federated unless `files` is given. */
  dataDir: string;
  /** Where global weights, optimiser state and updates are kept (a shared store for several control planes). */
  files?: ArtifactStore;
  codeVersion: string;
  /** How often running jobs are moved along. */
  tickMs?: number;
  /** A node counts as available while it has polled for tasks within this long. */
  livenessMs?: number;
  now?: () => number;
  /** Called after the final model is registered (wakes desired-state watchers). */
  onRegistered?: () => void;
  /** Where a job's central test set (evaluationDataset) is read from. */
  datasets?: DatasetCatalog;
}

interface Logger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

function seedOf(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0;
  return h % 1_000_000;
}

/**
 * The aggregator: federated jobs, their rounds and the clients' updates. A timer moves every
 * running job along (round-policy.ts decides); every step is written to the database first, so
 * a restarted control plane carries on from the last completed round (an open round even keeps
 * the updates it already received).
 */
export class FederatedService {
  readonly repository: FederatedJobRepository;
  /** Who polls for tasks, through any replica. */
  private readonly pollers: FederatedPollers;
  private readonly files: ArtifactStore;
  private readonly seen = new Map<string, number>();
  /** The data kinds each node said it holds when it polled (absent: it did not say, so any). */
  private readonly kinds = new Map<string, readonly string[]>();
  /** When a node was last dropped from a round (sampled, never answered): it is not sampled again until it polls after that. */
  private readonly dropped = new Map<string, number>();
  private readonly waiters = new Set<() => void>();
  private readonly phases = new Map<string, string>();
  private readonly weightCounts = new Map<string, number>();
  private readonly central: CentralEvaluation;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  /** Set at shutdown: task long polls answer at once. */
  private closed = false;
  private ticking: Promise<void> | undefined;
  private again = false;
  private log: Logger | undefined;

  constructor(
    db: Kysely<Database>,
    private readonly models: ModelRegistry,
    private readonly nodes: NodeRegistry,
    private readonly settings: FederatedSettings,
  ) {
    this.now = settings.now ?? Date.now;
    this.repository = new FederatedJobRepository(db, this.now);
    this.pollers = new FederatedPollers(db, this.now);
    this.files = settings.files ?? new FolderArtifactStore(path.join(settings.dataDir, 'federated'));
    this.central = new CentralEvaluation(settings.datasets);
  }

  start(log?: Logger): void {
    this.log = log;
    if (this.timer) return;
    this.timer = setInterval(() => this.poke(), this.settings.tickMs ?? 500);
    this.timer.unref();
    this.poke();
  }

  /** Shutdown: long-polling agents are answered at once, here and from now on. */
  async close(): Promise<void> {
    this.closed = true;
    await this.stop();
  }

  /** Stops the round coordinator (leadership lost, or shutdown); task long polls go on here. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.wakeAll();
    await this.ticking;
  }

  async create(request: StartFederatedJobRequest, createdBy: string | null): Promise<FederatedJobView> {
    const config = resolveJobConfig(request);
    const spec = specFor(request.datasetKind, config);
    if (request.evaluationDataset) config.evaluationDataset = await this.central.pin(request.evaluationDataset, request.datasetKind);
    let weights: Float32Array;
    try {
      weights = await initialWeights(spec);
    } catch (error) {
      if (isMlInputError(error)) throw new FoglineError('FOGLINE_ERR_FL_JOB_INVALID', error.message);
      throw error;
    }
    const stored = await this.files.putBytes(encodeUpdate(weights, 'float32', { round: 0 }));
    const id = `fl_${randomBytes(6).toString('hex')}`;
    await this.repository.insert({
      id,
      model: request.model,
      datasetKind: request.datasetKind,
      config,
      modelSpec: spec,
      weightsSha256: stored.sha256,
      createdBy,
    });
    this.poke();
    return this.get(id);
  }

  async list(query: FederatedJobListQuery = {}): Promise<FederatedJobView[]> {
    return (await this.repository.rows(query)).map((row) => jobView(row, this.phaseOf(row.id, row.status, row.error)));
  }

  async get(id: string): Promise<FederatedJobView> {
    const row = await this.repository.row(id);
    const [rows, updates] = await Promise.all([this.repository.rounds(id), this.repository.updates(id)]);
    return jobView(row, this.phaseOf(id, row.status, row.error), { rows, updates });
  }

  async cancel(id: string): Promise<FederatedJobView> {
    await this.repository.row(id);
    if (!(await this.repository.finish(id, 'canceled'))) {
      throw new FoglineError('FOGLINE_ERR_FL_JOB_FINISHED', `Federated job ${id} has already finished (fogline fl get ${id})`);
    }
    this.wakeAll();
    return this.get(id);
  }

  private phaseOf(id: string, status: string, error: string | null): string {
    if (status === 'running') return this.phases.get(id) ?? 'starting';
    if (status === 'failed') return `failed: ${error ?? 'unknown error'}`;
    return status;
  }

  // ---- the clients' side ----------------------------------------------------------------------

  /** The tasks waiting for this node (it is sampled in an open round and has not answered); long-polls up to `waitSeconds`. */
  async tasks(nodeId: string, waitSeconds = 0, kinds?: readonly string[]): Promise<FederatedTask[]> {
    this.seen.set(nodeId, this.now());
    if (kinds) this.kinds.set(nodeId, kinds);
    else this.kinds.delete(nodeId);
    await this.pollers.touch(nodeId, kinds);
    const deadline = Date.now() + waitSeconds * 1000;
    for (;;) {
      const tasks = await this.pendingTasks(nodeId);
      if (tasks.length > 0 || Date.now() >= deadline || this.closed) return tasks;
      // The coordinator wakes waiters when it opens a round; on a replica that does not coordinate
      // (a follower) the rounds appear in the database, so the poll looks again every second.
      const wait = Math.max(0, this.timer ? deadline - Date.now() : Math.min(FOLLOWER_RECHECK_MS, deadline - Date.now()));
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timeout);
          this.waiters.delete(wake);
          resolve();
        };
        const timeout = setTimeout(wake, wait);
        this.waiters.add(wake);
      });
      this.seen.set(nodeId, this.now());
    }
  }

  private async pendingTasks(nodeId: string): Promise<FederatedTask[]> {
    const tasks: FederatedTask[] = [];
    for (const jobId of await this.repository.runningIds()) {
      const open = await this.repository.openRound(jobId);
      if (!open || !(JSON.parse(open.sampled) as RoundClient[]).some((c) => c.nodeId === nodeId)) continue;
      const answered = await this.repository.updates(jobId, Number(open.round), Number(open.attempt));
      if (answered.some((u) => u.node_id === nodeId)) continue;
      const row = await this.repository.row(jobId);
      const config = JSON.parse(row.config) as FederatedJobConfig;
      const round = Number(open.round);
      const attempt = Number(open.attempt);
      const base = `/api/v1/federated/nodes/${encodeURIComponent(nodeId)}/jobs/${jobId}`;
      tasks.push({
        jobId,
        round,
        attempt,
        datasetKind: row.dataset_kind as FederatedTask['datasetKind'],
        modelSpec: JSON.parse(row.model_spec) as Record<string, unknown>,
        params: {
          localEpochs: config.localEpochs,
          batchSize: config.batchSize,
          learningRate: config.learningRate,
          proximalMu: config.proximalMu,
          seed: (config.seed * 7919 + round * 131 + attempt * 17 + seedOf(nodeId)) % 2 ** 31,
        },
        encoding: config.encoding,
        deadlineAt: new Date(Number(open.deadline_at)).toISOString(),
        weightsPath: `${base}/weights?round=${round}&attempt=${attempt}`,
        updatePath: `${base}/update?round=${round}&attempt=${attempt}`,
      });
    }
    return tasks;
  }

  /** The global weights a sampled client starts the open round from (a float32 update frame). */
  async weights(nodeId: string, jobId: string, round: number, attempt: number): Promise<Buffer> {
    const row = await this.repository.row(jobId);
    await this.sampledIn(nodeId, jobId, round, attempt);
    this.seen.set(nodeId, this.now());
    return this.files.read(row.weights_sha256);
  }

  private async sampledIn(nodeId: string, jobId: string, round: number, attempt: number) {
    const open = await this.repository.openRound(jobId);
    const sampled = open ? (JSON.parse(open.sampled) as RoundClient[]).find((c) => c.nodeId === nodeId) : undefined;
    if (!open || Number(open.round) !== round || Number(open.attempt) !== attempt || !sampled) {
      throw new FoglineError(
        'FOGLINE_ERR_FL_NOT_SAMPLED',
        `This node is not a client of round ${round} (attempt ${attempt}) of ${jobId}: the round has closed or it was not sampled`,
      );
    }
    // Past the deadline the round is over for its clients, even before the coordinator closes it.
    if (this.now() > Number(open.deadline_at)) {
      throw new FoglineError('FOGLINE_ERR_FL_NOT_SAMPLED', `Round ${round} of ${jobId} is past its deadline`);
    }
    return sampled;
  }

  /** Takes a client's encoded update: checks it, stores it and counts it towards the round's quorum. */
  async submit(nodeId: string, jobId: string, round: number, attempt: number, bytes: Uint8Array): Promise<FederatedUpdateReceipt> {
    const row = await this.repository.row(jobId);
    this.seen.set(nodeId, this.now());
    const config = JSON.parse(row.config) as FederatedJobConfig;
    let client: RoundClient;
    try {
      client = await this.sampledIn(nodeId, jobId, round, attempt);
    } catch (error) {
      if (!(error instanceof FoglineError) || error.code !== 'FOGLINE_ERR_FL_NOT_SAMPLED') throw error;
      // Sampled in that attempt, but it closed: recorded as late, so the round shows who straggled.
      const attempts = await this.repository.rounds(jobId);
      const closed = attempts.find((r) => Number(r.round) === round && Number(r.attempt) === attempt);
      const sampled = closed ? (JSON.parse(closed.sampled) as RoundClient[]).find((c) => c.nodeId === nodeId) : undefined;
      if (!sampled) {
        // Never a client of that attempt: an update from it is not its to send (issue 14).
        throw new FoglineError(
          'FOGLINE_ERR_NODE_NOT_ASSIGNED',
          `This node is not a client of round ${round} (attempt ${attempt}) of ${jobId}: its update was refused and nothing was written`,
          { job: jobId, round, attempt },
        );
      }
      await this.repository.recordUpdate({
        jobId,
        round,
        attempt,
        nodeId,
        nodeName: sampled.nodeName,
        status: 'late',
        reason: 'arrived after the round closed or its deadline',
        examples: 0,
        bytes: bytes.length,
        metrics: {},
        updateSha256: null,
      });
      return { status: 'late', round, bytes: bytes.length };
    }
    const reject = async (problem: string, message: string, examples = 0, metrics: Record<string, unknown> = {}): Promise<never> => {
      await this.repository.recordUpdate({
        jobId,
        round,
        attempt,
        nodeId,
        nodeName: client.nodeName,
        status: 'rejected',
        reason: `${problem}: ${message}`,
        examples,
        bytes: bytes.length,
        metrics,
        updateSha256: null,
      });
      this.poke();
      throw new FoglineError('FOGLINE_ERR_FL_UPDATE_REJECTED', `The update was rejected (${problem}): ${message}`, { problem });
    };
    let decoded: ReturnType<typeof decodeUpdate>;
    try {
      decoded = decodeUpdate(bytes);
    } catch (error) {
      if (!isMlInputError(error)) throw error;
      return reject('corrupt', error.message);
    }
    const examples = decoded.meta.examples;
    const metrics = (typeof decoded.meta.metrics === 'object' && decoded.meta.metrics !== null ? decoded.meta.metrics : {}) as Record<
      string,
      unknown
    >;
    if (typeof examples !== 'number' || !Number.isInteger(examples) || examples < 1 || examples > 1e9) {
      return reject('examples', `the example count must be a positive integer (got ${JSON.stringify(examples)})`, 0, metrics);
    }
    const problem = checkUpdate(decoded.values, await this.weightCount(row.weights_sha256), config.maxUpdateNorm);
    if (problem) return reject(problem.problem, problem.message, examples, metrics);
    const stored = await this.files.putBytes(bytes);
    const recorded = await this.repository.recordUpdate({
      jobId,
      round,
      attempt,
      nodeId,
      nodeName: client.nodeName,
      status: 'accepted',
      reason: null,
      examples,
      bytes: bytes.length,
      metrics,
      updateSha256: stored.sha256,
    });
    if (!recorded) {
      // The stored copy of a refused duplicate must not linger.
      if (!(await this.repository.isReferenced(stored.sha256))) await this.files.remove(stored.sha256);
      throw new FoglineError('FOGLINE_ERR_FL_UPDATE_DUPLICATE', `This node already sent its update for round ${round} of ${jobId}`);
    }
    this.poke();
    return { status: 'accepted', round, bytes: bytes.length };
  }

  private async weightCount(sha256: string): Promise<number> {
    let count = this.weightCounts.get(sha256);
    if (count === undefined) {
      if (this.weightCounts.size > 1000) this.weightCounts.clear(); // one entry per round's weights: keep it bounded
      count = decodeUpdate(await this.files.read(sha256)).values.length;
      this.weightCounts.set(sha256, count);
    }
    return count;
  }

  // ---- the coordinator --------------------------------------------------------------------------

  /** Runs a pass over the running jobs now (or right after the one in progress). */
  poke(): void {
    if (!this.timer) return; // not started (tests drive tick() themselves)
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = (async () => {
      do {
        this.again = false;
        await this.tick().catch((error: unknown) => this.log?.error({ err: error }, 'federated coordinator pass failed'));
      } while (this.again && this.timer);
    })().finally(() => {
      this.ticking = undefined;
    });
  }

  /** One pass: every running job takes at most one step. Exposed for tests. */
  async tick(): Promise<void> {
    const running = await this.repository.runningIds();
    this.central.keepOnly(running);
    for (const id of running) {
      try {
        await this.advance(id);
      } catch (error) {
        this.log?.error({ err: error, job: id }, 'federated job step failed');
        await this.repository.finish(id, 'failed', { error: (error as Error).message });
      }
    }
  }

  private async available(selector: Record<string, string>, datasetKind: string): Promise<RoundClient[]> {
    const now = this.now();
    const liveness = this.settings.livenessMs ?? 30_000;
    // Polls that reached other replicas are in the database; this replica's own are the freshest.
    const polled = await this.pollers.since(now - liveness);
    return (await this.nodes.list({ selector }))
      .filter((n) => {
        const local = this.seen.get(n.id);
        const shared = polled.get(n.id);
        const seen = local !== undefined && (shared === undefined || local >= shared.seenAt) ? local : shared?.seenAt;
        const kinds = local !== undefined && seen === local ? this.kinds.get(n.id) : shared?.kinds;
        return (
          takesNewWork(n) &&
          seen !== undefined &&
          now - seen <= liveness &&
          seen >= (this.dropped.get(n.id) ?? Number.NEGATIVE_INFINITY) &&
          (!kinds || kinds.includes(datasetKind))
        );
      })
      .map((n) => ({ nodeId: n.id, nodeName: n.name }));
  }

  private async advance(id: string): Promise<void> {
    const row = await this.repository.row(id);
    if (row.status !== 'running') return;
    const config = JSON.parse(row.config) as FederatedJobConfig;
    const open = await this.repository.openRound(id);
    const roundsCompleted = Number(row.rounds_completed);
    let state: JobState;
    const answers = open ? await this.repository.updates(id, Number(open.round), Number(open.attempt)) : [];
    if (open) {
      state = {
        config,
        roundsCompleted,
        failedAttempts: 0,
        open: {
          round: Number(open.round),
          attempt: Number(open.attempt),
          sampled: JSON.parse(open.sampled) as RoundClient[],
          deadlineAt: Number(open.deadline_at),
          answered: answers.filter((a) => a.status !== 'late').length,
          accepted: answers.filter((a) => a.status === 'accepted').length,
        },
      };
    } else {
      state = { config, roundsCompleted, open: null, failedAttempts: await this.repository.failedAttempts(id, roundsCompleted + 1) };
    }
    const step = nextStep(id, state, open ? [] : await this.available(config.nodeSelector, row.dataset_kind), this.now());
    if (state.open && (step.kind === 'aggregate' || step.kind === 'fail-round')) {
      const answered = new Set(answers.map((u) => u.node_id));
      for (const client of state.open.sampled) {
        if (answered.has(client.nodeId)) continue;
        this.dropped.set(client.nodeId, this.now());
        // A dropped client is sampled again only once it polls again, whichever replica it asks.
        await this.pollers.forget(client.nodeId);
      }
    }
    switch (step.kind) {
      case 'wait':
        this.phases.set(id, step.reason);
        return;
      case 'start-round':
        if (await this.repository.startRound(id, step.round, step.attempt, step.sampled, step.deadlineAt)) {
          this.phases.set(id, `round ${step.round}: 0 of ${step.sampled.length} clients reported`);
          this.log?.info(
            { job: id, round: step.round, attempt: step.attempt, clients: step.sampled.map((c) => c.nodeName) },
            'round started',
          );
          this.wakeAll();
        }
        return;
      case 'aggregate':
        await this.aggregateRound(id, step.round, step.attempt);
        this.wakeAll();
        this.again = true;
        return;
      case 'fail-round':
        await this.repository.closeRound(id, step.round, step.attempt, 'failed', step.reason);
        this.log?.info({ job: id, round: step.round, attempt: step.attempt, reason: step.reason }, 'round failed');
        this.phases.set(id, `round ${step.round} failed (${step.reason}); retrying`);
        this.wakeAll();
        this.again = true;
        return;
      case 'fail-job':
        await this.repository.finish(id, 'failed', { error: step.reason });
        return;
      case 'finish':
        await this.finishJob(id);
        return;
    }
  }

  private async aggregateRound(id: string, round: number, attempt: number): Promise<void> {
    const row = await this.repository.row(id);
    const config = JSON.parse(row.config) as FederatedJobConfig;
    const updates = (await this.repository.updates(id, round, attempt)).filter((u) => u.status === 'accepted');
    const clientUpdates = [];
    for (const u of updates) {
      const values = decodeUpdate(await this.files.read(u.update_sha256!)).values;
      clientUpdates.push({ delta: config.clipNorm === null ? values : clipToNorm(values, config.clipNorm), examples: Number(u.examples) });
    }
    const global = decodeUpdate(await this.files.read(row.weights_sha256)).values;
    let optimizer: ServerOptimizerState | null = null;
    if (row.optimizer_sha256) {
      const saved = decodeUpdate(await this.files.read(row.optimizer_sha256));
      optimizer = {
        m: saved.values.slice(0, global.length),
        v: saved.values.slice(global.length),
        step: Number(saved.meta.step ?? 0),
      };
    }
    const result = aggregate(config.strategy as ServerStrategy, global, clientUpdates, optimizer, {
      serverLearningRate: config.serverLearningRate,
    });
    const weights = await this.files.putBytes(encodeUpdate(result.weights, 'float32', { round }));
    let optimizerSha: string | null = null;
    if (result.state) {
      const both = new Float32Array(global.length * 2);
      both.set(result.state.m);
      both.set(result.state.v, global.length);
      optimizerSha = (await this.files.putBytes(encodeUpdate(both, 'float32', { step: result.state.step }))).sha256;
    }
    const metrics = roundMetrics(updates, l2Norm(result.meanDelta));
    if (config.evaluationDataset) {
      // Server-side evaluation: the new global model on the job's central test set.
      try {
        Object.assign(
          metrics,
          await this.central.score(id, JSON.parse(row.model_spec) as FederatedModelSpec, config.evaluationDataset, result.weights),
        );
      } catch (error) {
        this.log?.error({ err: error, job: id }, 'server-side evaluation failed; the round goes on without it');
      }
    }
    if (await this.repository.completeRound(id, round, attempt, metrics, weights.sha256, optimizerSha)) {
      this.phases.set(id, `round ${round} aggregated (${updates.length} updates)`);
      this.log?.info({ job: id, round, updates: updates.length, accuracy: metrics.evalAccuracy }, 'round aggregated');
      // The updates were folded into the new global weights, which replace the old ones: files that
      // nothing refers to any more go (content-addressed, so another job may share one: checked).
      const stale = [...updates.map((u) => u.update_sha256!), row.weights_sha256, row.optimizer_sha256];
      for (const sha of new Set(stale)) {
        if (sha && !(await this.repository.isReferenced(sha))) await this.files.remove(sha);
      }
    }
  }

  private async finishJob(id: string): Promise<void> {
    const row = await this.repository.row(id);
    const [rounds, updates] = await Promise.all([this.repository.rounds(id), this.repository.updates(id)]);
    const weights = decodeUpdate(await this.files.read(row.weights_sha256)).values;
    const version = await registerFinalModel(this.models, row, rounds, updates, weights, this.settings.codeVersion);
    await this.repository.finish(id, 'succeeded', { registeredVersion: version.version });
    this.log?.info({ job: id, model: row.model_name, version: version.version }, 'federated job finished; model registered');
    this.settings.onRegistered?.();
  }

  private wakeAll(): void {
    for (const wake of [...this.waiters]) wake();
  }
}
