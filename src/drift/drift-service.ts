import fs from 'node:fs';
import type { FastifyBaseLogger } from 'fastify';
import {
  DRIFT_POLICY_DEFAULTS,
  type DriftAction,
  type DriftEventView,
  type DriftFinding,
  type DriftPolicyView,
  type DriftReportBatch,
  type DriftReportReceipt,
  type DriftSampleBatch,
  type DriftSampleReceipt,
  type DriftSampleRefusal,
  type DriftTrigger,
  type SetDriftPolicyRequest,
} from '../contracts/drift.js';
import type { DatasetVersionView } from '../contracts/datasets.js';
import type { DatasetCatalog } from '../datasets/dataset-catalog.js';
import { isDatabaseUnavailable } from '../store/unavailable.js';
import type { ChangeSignal } from '../deployments/change-signal.js';
import type { DeploymentRepository } from '../deployments/deployment-repository.js';
import { FoglineError } from '../errors/fogline-error.js';
import { compareForecasters } from '../ml/drift/challenger.js';
import { ingestTimeSeriesCsv } from '../ml/timeseries/ingest.js';
import type { RunEngine } from '../pipelines/run-engine.js';
import type { ArtifactStore } from '../registry/artifact-store.js';
import type { ModelRegistry } from '../registry/model-registry.js';
import { parseModelSelector } from '../registry/model-selector.js';
import type { DriftRepository } from './drift-repository.js';
import { evaluateDrift } from './evaluate-drift.js';
import { checkSamples, DEFAULT_SAMPLE_LIMITS, type SampleLimits, type SampleRefusal } from './sample-bounds.js';
import { csvRowsToAppend } from './sample-csv.js';
import { TrainingRanges } from './training-range.js';

export interface DriftServiceDeps {
  repository: DriftRepository;
  deployments: DeploymentRepository;
  models: ModelRegistry;
  artifacts: ArtifactStore;
  datasets: DatasetCatalog;
  runs: RunEngine;
  changes: ChangeSignal;
  /** How often retraining rounds are moved along (default 2000 ms). */
  tickMs?: number;
  /** What one sample upload may add (src/drift/sample-bounds.ts); the defaults when left out. */
  sampleLimits?: SampleLimits;
  now?: () => number;
}

/** The alias a challenger is registered under while it is evaluated. */
export const CHALLENGER_ALIAS = 'challenger';

/**
 * Closes the loop: node summaries in, drift events out, and for `retrain` policies a pipeline run
 * on the deployment's dataset whose model becomes the `challenger`, is scored beside the champion
 * on the same held-out windows (the newest data) and, under `retrain-and-promote`, takes the
 * deployment's alias only when it wins by the policy's margin. The deployment's rollout strategy
 * (canary, rolling, all-at-once) then takes the new version to the nodes. Every step is a line in
 * the event's timeline.
 */
export class DriftService {
  private readonly perDeployment = new Map<string, Promise<unknown>>();
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private readonly scheduleRefused = new Set<string>();
  private log: FastifyBaseLogger | undefined;
  private readonly now: () => number;
  private readonly sampleLimits: SampleLimits;
  private readonly ranges: TrainingRanges;

  constructor(private readonly deps: DriftServiceDeps) {
    this.now = deps.now ?? Date.now;
    this.sampleLimits = deps.sampleLimits ?? DEFAULT_SAMPLE_LIMITS;
    this.ranges = new TrainingRanges(deps.datasets);
  }

  get repository(): DriftRepository {
    return this.deps.repository;
  }

  start(log?: FastifyBaseLogger): void {
    this.log = log;
    if (this.timer) return;
    // A pass that fails (the database away for a moment) is logged; the next one tries again.
    this.timer = setInterval(
      () => void this.tick().catch((error: unknown) => this.log?.warn(`drift pass failed: ${(error as Error).message}`)),
      this.deps.tickMs ?? 2000,
    );
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  async setPolicy(deployment: string, request: SetDriftPolicyRequest, by: string | null): Promise<DriftPolicyView> {
    await this.deps.deployments.get(deployment);
    const policy = await this.deps.repository.setPolicy(deployment, request, by);
    // Whether a deployment uploads samples is part of its nodes' desired state.
    this.deps.changes.notify();
    return policy;
  }

  async deletePolicy(deployment: string): Promise<void> {
    await this.deps.repository.deletePolicy(deployment);
    this.deps.changes.notify();
  }

  /** Files each summary, runs the deployment's policy over it, and tells the node when to report next. */
  async receive(nodeId: string, batch: DriftReportBatch): Promise<DriftReportReceipt> {
    // The policies are read once for the batch: they answer both the reports and the receipt.
    const policies = await this.deps.repository.listPolicies();
    const policyOf = new Map(policies.map((p) => [p.deployment, p]));
    for (const report of batch.reports) {
      await this.deps.repository.saveReport(nodeId, report);
      const policy = policyOf.get(report.deployment);
      if (!policy) continue;
      const findings = evaluateDrift(policy, report.summary);
      if (findings.length === 0) continue;
      // A node still serving a version the deployment has moved on from (a promotion on its way
      // out) reports the drift that moved it: no new round for that.
      if (!(await this.servesCurrent(report.deployment, report.version))) continue;
      await this.serialised(report.deployment, () =>
        this.fire(policy, { trigger: 'drift', nodeId, model: report.model, version: report.version, findings }),
      );
    }
    const deployments: DriftReportReceipt['deployments'] = {};
    for (const p of policies) {
      deployments[p.deployment] = { windowHours: p.windowHours, errorWindowHours: p.errorWindowHours };
      if (!p.sampleUpload || !batch.reports.some((r) => r.deployment === p.deployment)) continue;
      // Consent: the node keeps the actuals it is posted and sends those newer than the dataset.
      const latest = await this.sampleDataset(p).catch(() => undefined);
      if (latest) deployments[p.deployment] = { ...deployments[p.deployment]!, sampleUpload: true, samplesAfter: endOf(latest) };
    }
    return {
      reportIntervalSeconds: Math.min(DRIFT_POLICY_DEFAULTS.reportIntervalSeconds, ...policies.map((p) => p.reportIntervalSeconds)),
      deployments,
    };
  }

  /**
   * Samples a node uploads with the policy's consent: those newer than the last row of the
   * deployment's dataset (its latest version), once per time, are appended to a copy of that
   * version, which becomes the next version with the node in its `source` (lineage). Each row must
   * pass src/drift/sample-bounds.ts (time after the dataset and not ahead of the clock, value in
   * the training data's band, few gaps); the rows that do are kept even when others are refused,
   * and the refused ones come back as a 400 (FOGLINE_ERR_DRIFT_SAMPLES_INVALID) naming each row,
   * with the receipt of what was kept in its details. A time repeated in the batch counts once
   * (`skipped`). One upload per deployment at a time.
   */
  async receiveSamples(nodeId: string, batch: DriftSampleBatch): Promise<DriftSampleReceipt> {
    const policy = await this.deps.repository.findPolicy(batch.deployment);
    if (!policy?.sampleUpload) {
      throw new FoglineError(
        'FOGLINE_ERR_DRIFT_SAMPLES_REFUSED',
        `The drift policy of ${batch.deployment} does not consent to sample upload (fogline drift policy set ${batch.deployment} --sample-upload on)`,
      );
    }
    const report = (await this.deps.repository.reports(batch.deployment)).find((r) => r.nodeId === nodeId);
    if (!report) {
      throw new FoglineError('FOGLINE_ERR_DRIFT_SAMPLES_REFUSED', `This node has not reported drift for ${batch.deployment}`);
    }
    const node = report.nodeName;
    return this.serialised(`samples:${batch.deployment}`, async () => {
      const latest = await this.sampleDataset(policy);
      const after = endOf(latest);
      const checked = checkSamples(batch.samples, {
        after,
        nowSeconds: Math.floor(this.now() / 1000),
        intervalSeconds: typeof latest.schema.intervalSeconds === 'number' ? latest.schema.intervalSeconds : null,
        range: await this.ranges.of(latest),
        limits: this.sampleLimits,
      });
      const fresh = new Map(checked.accepted);
      const times = [...fresh.keys()];
      const skipped = checked.repeated;
      if (times.length === 0) {
        return receiptUnlessRefused(checked.refused, {
          accepted: 0,
          skipped,
          dataset: latest.name,
          datasetVersion: latest.version,
          samplesAfter: after,
        });
      }
      const read = this.deps.datasets.readOptions(latest);
      const file = await this.deps.datasets.filePath(latest);
      const appended = await csvRowsToAppend(
        file,
        read,
        `${latest.name}@${latest.version}`,
        times.map((t) => [t, fresh.get(t)!] as const),
      );
      const view = await this.deps.datasets.push({
        name: latest.name,
        read,
        body: (async function* () {
          yield* fs.createReadStream(file);
          yield Buffer.from(appended);
        })(),
        source: {
          kind: 'edge-samples',
          basedOn: `${latest.name}@${latest.version}`,
          deployment: batch.deployment,
          nodeId,
          node,
          samples: times.length,
          from: new Date(times[0]! * 1000).toISOString(),
          to: new Date(times.at(-1)! * 1000).toISOString(),
        },
        createdBy: null,
      });
      this.log?.info(
        { deployment: batch.deployment, nodeId, dataset: `${view.name}@${view.version}`, samples: times.length },
        'drift: samples appended',
      );
      // A round waiting for this node's samples retrains on the version they made.
      const waiting = (await this.deps.repository.listEvents({ deployment: batch.deployment, status: 'collecting' })).filter(
        (e) => e.nodeId === nodeId,
      );
      for (const event of waiting) {
        const message = `samples from ${node ?? nodeId}: ${times.length} row(s) ${new Date(times[0]! * 1000).toISOString()} .. ${new Date(times.at(-1)! * 1000).toISOString()} appended as ${view.name}@${view.version}`;
        await this.serialised(batch.deployment, () => this.collected(event.id, message, { name: view.name, version: view.version })).catch(
          (error: unknown) => this.log?.error({ err: error, event: event.id }, 'drift: could not start retraining on the samples'),
        );
      }
      return receiptUnlessRefused(checked.refused, {
        accepted: times.length,
        skipped,
        dataset: view.name,
        datasetVersion: view.version,
        samplesAfter: endOf(view),
      });
    });
  }

  /** A collecting round got its samples (or waited long enough): retraining starts, on `dataset` when given. */
  private async collected(id: string, message: string, dataset?: { name: string; version: number }): Promise<void> {
    const event = await this.deps.repository.getEvent(id);
    if (event.status !== 'collecting') return;
    await this.deps.repository.updateEvent(id, { message });
    await this.startRun(event, dataset);
  }

  /** The latest version of the dataset a policy retrains on (the policy's, else the champion's lineage). */
  private async sampleDataset(policy: DriftPolicyView): Promise<DatasetVersionView> {
    const deployment = await this.deps.deployments.get(policy.deployment);
    const name = policy.dataset ?? (await this.deps.models.resolve(deployment.modelSelector)).lineage.dataset?.name;
    if (!name) {
      throw new FoglineError(
        'FOGLINE_ERR_DRIFT_SAMPLES_REFUSED',
        `${deployment.modelSelector} has no dataset in its lineage: set one with fogline drift policy set ${deployment.name} --dataset <name>`,
      );
    }
    return this.deps.datasets.get(name);
  }

  private async servesCurrent(deployment: string, version: number): Promise<boolean> {
    try {
      const current = await this.deps.models.resolve((await this.deps.deployments.get(deployment)).modelSelector);
      return current.version === version;
    } catch {
      return false;
    }
  }

  /** A retraining round now, whatever the statistics say (trigger `manual`, or `schedule` from the policy's timer). */
  async retrainNow(deployment: string, action?: DriftAction, trigger: 'manual' | 'schedule' = 'manual'): Promise<DriftEventView> {
    const policy = await this.deps.repository.getPolicy(deployment);
    const effective = action ?? (policy.action === 'alert' ? 'retrain' : policy.action);
    const champion = await this.deps.models.resolve((await this.deps.deployments.get(deployment)).modelSelector);
    const event = await this.serialised(deployment, () =>
      this.startRound(
        { ...policy, action: effective },
        { trigger, nodeId: null, model: champion.model, version: champion.version, findings: [] },
      ),
    );
    return event;
  }

  /** One event per deployment at a time: after the cooldown, and never while a round is retraining. */
  private async fire(
    policy: DriftPolicyView,
    input: { trigger: 'drift'; nodeId: string; model: string; version: number; findings: DriftFinding[] },
  ): Promise<DriftEventView | undefined> {
    const last = await this.deps.repository.lastEvent(policy.deployment);
    if (last && (OPEN_STATUSES.has(last.status) || this.now() - Date.parse(last.createdAt) < policy.cooldownSeconds * 1000))
      return undefined;
    if (policy.action === 'alert') {
      const event = await this.deps.repository.createEvent({
        deployment: policy.deployment,
        ...input,
        action: 'alert',
        status: 'alerted',
        message: `drift on ${describe(input.findings)}; action alert: nothing else done`,
      });
      this.log?.warn({ deployment: policy.deployment, event: event.id, findings: input.findings }, 'drift detected');
      return event;
    }
    return this.startRound(policy, input);
  }

  private async startRound(
    policy: DriftPolicyView,
    input: { trigger: DriftTrigger; nodeId: string | null; model: string; version: number; findings: DriftFinding[] },
  ): Promise<DriftEventView> {
    const detected =
      input.trigger === 'manual'
        ? 'retraining asked for by hand'
        : input.trigger === 'schedule'
          ? `scheduled retraining: no round started in the last ${policy.retrainEverySeconds} s`
          : `drift on ${describe(input.findings)}`;
    const base = { deployment: policy.deployment, ...input, action: policy.action };
    if (input.trigger === 'drift' && input.nodeId !== null && policy.sampleUpload) {
      // With consent, the node that drifted sends what it saw next: retraining waits for it (a while).
      const event = await this.deps.repository.createEvent({
        ...base,
        status: 'collecting',
        message: `${detected}; waiting for this node's samples before retraining (at most ${collectSeconds(policy)} s)`,
      });
      this.log?.warn({ deployment: policy.deployment, event: event.id }, 'drift: collecting samples');
      return event;
    }
    const event = await this.deps.repository.createEvent({ ...base, status: 'retraining', message: detected });
    return this.startRun(event);
  }

  /** Starts the round's pipeline run (on `dataset`, else the latest version of the policy's dataset). */
  private async startRun(event: DriftEventView, dataset?: { name: string; version: number }): Promise<DriftEventView> {
    try {
      const policy = await this.deps.repository.getPolicy(event.deployment);
      const plan = await this.plan(policy);
      const version = dataset?.name === plan.dataset ? dataset : await this.deps.datasets.get(plan.dataset);
      const reference = `${version.name}@${version.version}`;
      const run = await this.deps.runs.start(
        { pipeline: 'forecast', dataset: reference, model: plan.model, params: plan.params, gate: 'beat-baseline' },
        null,
      );
      const warm = typeof plan.params.warmStartFrom === 'number' ? ` warm-started from v${plan.params.warmStartFrom}'s weights` : '';
      this.log?.warn({ deployment: event.deployment, event: event.id, runId: run.id }, 'drift: retraining');
      return await this.deps.repository.updateEvent(event.id, {
        status: 'retraining',
        runId: run.id,
        message: `retraining ${plan.model} on ${reference}${warm} (run ${run.id})`,
      });
    } catch (error) {
      if (isDatabaseUnavailable(error)) throw error;
      return this.deps.repository.updateEvent(event.id, {
        status: 'failed',
        message: `retraining could not start: ${(error as Error).message}`,
      });
    }
  }

  /** What a retraining run trains: the champion's pipeline parameters on the latest version of its dataset. */
  private async plan(policy: DriftPolicyView): Promise<{ model: string; dataset: string; params: Record<string, unknown> }> {
    const deployment = await this.deps.deployments.get(policy.deployment);
    const selector = parseModelSelector(deployment.modelSelector);
    if (selector.kind !== 'alias') {
      throw new FoglineError(
        'FOGLINE_ERR_DRIFT_RETRAIN_UNAVAILABLE',
        `deployment ${deployment.name} follows ${deployment.modelSelector}, not an alias: a retrained version would go out unevaluated; deploy ${selector.model}@champion`,
      );
    }
    const champion = await this.deps.models.resolve(selector);
    if (champion.kind !== 'forecaster') {
      throw new FoglineError(
        'FOGLINE_ERR_DRIFT_RETRAIN_UNAVAILABLE',
        `${champion.model} is not a forecaster (its kind: ${champion.kind}); automatic retraining covers forecasters`,
      );
    }
    const dataset = policy.dataset ?? champion.lineage.dataset?.name;
    if (!dataset) {
      throw new FoglineError(
        'FOGLINE_ERR_DRIFT_RETRAIN_UNAVAILABLE',
        `${champion.model} v${champion.version} has no dataset in its lineage: set one with fogline drift policy set ${deployment.name} --dataset <name>`,
      );
    }
    await this.deps.datasets.get(dataset);
    const params: Record<string, unknown> = Object.fromEntries(
      Object.entries(champion.lineage.parameters).filter(([k, v]) => v !== undefined && v !== null && k !== 'warmStartFrom'),
    );
    // The same parameters make the same architecture: the run starts from the champion's weights.
    if (policy.warmStart && champion.model === selector.model && ['window', 'horizon', 'hidden'].every((k) => params[k] !== undefined)) {
      params.warmStartFrom = champion.version;
    }
    return { model: selector.model, dataset, params };
  }

  /** Moves retraining rounds along: run finished → challenger → evaluation → promotion or not. */
  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      // The policies are read once a pass: the schedule and the collecting rounds both need them.
      const policies = await this.deps.repository.listPolicies();
      await this.scheduled(policies);
      const policyOf = new Map(policies.map((p) => [p.deployment, p]));
      for (const event of await this.deps.repository.listEvents({ status: 'collecting', limit: 100 })) {
        const policy = policyOf.get(event.deployment);
        const waited = this.now() - Date.parse(event.createdAt);
        if (policy && waited < collectSeconds(policy) * 1000) continue;
        await this.serialised(event.deployment, () =>
          this.collected(event.id, `no new samples from ${event.nodeName ?? event.nodeId ?? 'the node'} in ${Math.round(waited / 1000)} s`),
        );
      }
      for (const event of await this.deps.repository.listEvents({ status: 'canary', limit: 100 })) {
        await this.serialised(event.deployment, () => this.watchCanary(event)).catch((error: unknown) => {
          if (isDatabaseUnavailable(error)) throw error;
          this.log?.error({ err: error, event: event.id }, 'drift: watching the canary failed');
        });
      }
      for (const event of await this.deps.repository.listEvents({ status: 'retraining', limit: 100 })) {
        await this.serialised(event.deployment, () => this.advance(event)).catch((error: unknown) => {
          // The database away is not the round's fault: the next pass takes it up again.
          if (isDatabaseUnavailable(error)) throw error;
          this.log?.error({ err: error, event: event.id }, 'drift round failed');
          return this.deps.repository.updateEvent(event.id, {
            status: 'failed',
            message: `evaluation failed: ${(error as Error).message}`,
          });
        });
      }
    } finally {
      this.ticking = false;
    }
  }

  /**
   * Starts the rounds that scheduled policies are due: none has started (alerts do not count) for
   * `retrainEverySeconds`, counted from the last round or the last change to the policy, and none
   * is under way.
   */
  private async scheduled(policies: readonly DriftPolicyView[]): Promise<void> {
    for (const policy of policies) {
      if (policy.retrainEverySeconds <= 0) continue;
      const events = await this.deps.repository.listEvents({ deployment: policy.deployment, limit: 50 });
      if (events.some((e) => OPEN_STATUSES.has(e.status))) continue;
      const lastRound = events.find((e) => e.action !== 'alert');
      const since = Math.max(Date.parse(policy.updatedAt), lastRound ? Date.parse(lastRound.createdAt) : 0);
      if (this.now() - since < policy.retrainEverySeconds * 1000) continue;
      await this.retrainNow(policy.deployment, undefined, 'schedule').then(
        () => this.scheduleRefused.delete(policy.deployment),
        (error: unknown) => {
          if (isDatabaseUnavailable(error)) throw error;
          // A deployment that resolves to no version now: later passes try again, and say so once.
          if (!this.scheduleRefused.has(policy.deployment))
            this.log?.warn({ deployment: policy.deployment, err: error }, 'drift: scheduled retraining could not start');
          this.scheduleRefused.add(policy.deployment);
        },
      );
    }
  }

  private async advance(event: DriftEventView): Promise<void> {
    if (!event.runId) return;
    const run = await this.deps.runs.get(event.runId);
    if (run.status === 'queued' || run.status === 'running') return;
    if (run.status !== 'succeeded') {
      await this.deps.repository.updateEvent(event.id, {
        status: 'failed',
        message: `run ${run.id} ${run.status}: ${run.error ?? ''}`.trim(),
      });
      return;
    }
    if (run.registeredVersion === null) {
      await this.deps.repository.updateEvent(event.id, {
        status: 'kept',
        message: `run ${run.id} did not pass the registry gate (no better than the seasonal-naive baseline): the champion stays`,
      });
      return;
    }
    const challengerVersion = run.registeredVersion;
    const { models } = this.deps;
    await models.setAlias(run.model, CHALLENGER_ALIAS, challengerVersion);
    await this.deps.repository.updateEvent(event.id, {
      challengerVersion,
      message: `${run.model} v${challengerVersion} registered as ${CHALLENGER_ALIAS}; scoring it beside v${event.version} on the same held-out windows`,
    });
    const policy = await this.deps.repository.findPolicy(event.deployment);
    const champion = await models.getVersion(event.model, event.version);
    const challenger = await models.getVersion(run.model, challengerVersion);
    const dataset = await this.deps.datasets.get(run.dataset.name, run.dataset.version);
    const read = this.deps.datasets.readOptions(dataset);
    const series = await ingestTimeSeriesCsv(fs.createReadStream(await this.deps.datasets.filePath(dataset)), {
      timeColumn: read.timeColumn,
      valueColumn: read.valueColumn,
    });
    const comparison = await compareForecasters(
      await this.deps.artifacts.read(champion.artifact.sha256),
      await this.deps.artifacts.read(challenger.artifact.sha256),
      series,
    );
    const margin = policy?.promotionMargin ?? DRIFT_POLICY_DEFAULTS.promotionMargin;
    const wins = comparison.improvement >= margin;
    const evaluation = {
      windows: comparison.windows,
      from: new Date(comparison.from * 1000).toISOString(),
      to: new Date(comparison.to * 1000).toISOString(),
      championVersion: event.version,
      challengerVersion,
      championMape: comparison.championMape,
      challengerMape: comparison.challengerMape,
      improvement: comparison.improvement,
      margin,
      wins,
    };
    const scores = `MAPE ${comparison.challengerMape.toFixed(2)}% vs champion ${comparison.championMape.toFixed(2)}% on ${comparison.windows} windows of ${dataset.name}@${dataset.version} (${comparison.improvement >= 0 ? `${(comparison.improvement * 100).toFixed(1)}% lower` : `${(-comparison.improvement * 100).toFixed(1)}% higher`}; margin ${(margin * 100).toFixed(1)}%)`;
    if (!wins || event.action !== 'retrain-and-promote') {
      await this.deps.repository.updateEvent(event.id, {
        status: 'kept',
        evaluation,
        message: `${wins ? 'challenger wins' : 'challenger loses'}: ${scores}; ${wins ? 'action retrain: not promoted (promote it with fogline models alias set)' : 'the champion stays'}`,
      });
      return;
    }
    const deployment = await this.deps.deployments.get(event.deployment);
    const selector = parseModelSelector(deployment.modelSelector);
    if (selector.kind !== 'alias' || selector.model !== run.model) {
      await this.deps.repository.updateEvent(event.id, {
        status: 'kept',
        evaluation,
        message: `challenger wins: ${scores}; not promoted: the deployment now follows ${deployment.modelSelector}`,
      });
      return;
    }
    const drifted = await this.driftedNodes(event, policy);
    if (drifted.length > 0) {
      // The nodes that drifted get it first, whatever the strategy; the rest once they soaked healthy.
      await this.deps.deployments.preferCanary(
        deployment.name,
        challengerVersion,
        drifted.map((n) => n.id),
      );
    }
    await models.setAlias(selector.model, selector.alias, challengerVersion);
    this.deps.changes.notify();
    if (drifted.length === 0) {
      await this.deps.repository.updateEvent(event.id, {
        status: 'promoted',
        evaluation,
        message: `challenger wins: ${scores}; ${selector.model}@${selector.alias} -> v${challengerVersion}, the deployment's rollout (strategy ${deployment.strategy}) takes it to the nodes`,
      });
      return;
    }
    await this.deps.repository.updateEvent(event.id, {
      status: 'canary',
      evaluation,
      message: `challenger wins: ${scores}; ${selector.model}@${selector.alias} -> v${challengerVersion}: canary on ${drifted.map((n) => n.name).join(', ')} (drifted) first, soak ${Math.round(deployment.soakMs / 1000)} s with at most ${(deployment.maxErrorRate * 100).toFixed(1)}% errors, then every node`,
    });
  }

  /** The node that fired the event and the others whose newest report on the same version shows drift too. */
  private async driftedNodes(event: DriftEventView, policy: DriftPolicyView | undefined): Promise<{ id: string; name: string }[]> {
    const nodes = new Map<string, string>();
    if (event.nodeId) nodes.set(event.nodeId, event.nodeName ?? event.nodeId);
    if (!policy) return [...nodes].map(([id, name]) => ({ id, name }));
    for (const report of await this.deps.repository.reports(event.deployment)) {
      if (report.version === event.version && evaluateDrift(policy, report.summary).length > 0) {
        nodes.set(report.nodeId, report.nodeName ?? report.nodeId);
      }
    }
    return [...nodes].map(([id, name]) => ({ id, name }));
  }

  /** A canary round: promoted once every node serves the challenger; rolled back (the champion stays) when the canary fails. */
  private async watchCanary(event: DriftEventView): Promise<void> {
    const version = event.challengerVersion;
    if (version === null) return;
    const deployment = await this.deps.deployments.get(event.deployment);
    const { rollout } = deployment;
    const since = Date.parse(event.timeline.find((t) => t.status === 'canary')?.at ?? event.updatedAt) - 1000;
    const history = rollout.history.filter((h) => h.version === version && h.at >= since);
    if (rollout.phase === 'stable' && rollout.stableVersion === version) {
      await this.deps.repository.updateEvent(event.id, {
        status: 'promoted',
        message: `every node serves v${version}${history.some((h) => h.event === 'promoted') ? ' (the canary soaked healthy first)' : ''}`,
      });
      return;
    }
    const rolledBack = [...history].reverse().find((h) => h.event === 'rolled-back');
    if (rollout.phase === 'rolled-back' && rollout.blockedVersions.includes(version) && rolledBack) {
      const selector = parseModelSelector(deployment.modelSelector);
      let back = '';
      if (selector.kind === 'alias' && selector.model === event.model) {
        const current = await this.deps.models.resolve(selector).catch(() => undefined);
        if (current?.version === version) {
          await this.deps.models.setAlias(selector.model, selector.alias, event.version);
          this.deps.changes.notify();
          back = `; ${selector.model}@${selector.alias} -> v${event.version} again`;
        }
      }
      await this.deps.repository.updateEvent(event.id, {
        status: 'rolled-back',
        message: `canary failed: ${rolledBack.message}${back}: the champion stays`,
      });
      return;
    }
    const healthy = history.find((h) => h.event === 'canary-healthy');
    if (healthy && !event.timeline.some((t) => t.message.startsWith('canary healthy'))) {
      await this.deps.repository.updateEvent(event.id, { message: `canary healthy: ${healthy.message}` });
      return;
    }
    const current = await this.deps.models.resolve(deployment.modelSelector).catch(() => undefined);
    if (current && current.version !== version && rollout.targetVersion !== version) {
      await this.deps.repository.updateEvent(event.id, {
        status: 'kept',
        message: `the deployment moved on to v${current.version} before the canary finished`,
      });
    }
  }

  private serialised<T>(deployment: string, work: () => Promise<T>): Promise<T> {
    const previous = this.perDeployment.get(deployment) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => undefined);
    this.perDeployment.set(deployment, settled);
    void settled.then(() => {
      if (this.perDeployment.get(deployment) === settled) this.perDeployment.delete(deployment);
    });
    return next;
  }
}

/** Statuses of a round still under way: no new event while one is. */
const OPEN_STATUSES = new Set<string>(['collecting', 'retraining', 'canary']);

/** How long a round waits for the drifted node's samples: three report intervals, at least 10 s. */
function collectSeconds(policy: DriftPolicyView): number {
  return Math.max(10, 3 * policy.reportIntervalSeconds);
}

function describe(findings: DriftFinding[]): string {
  return findings
    .map((f) => `${f.feature} (${f.test} ${f.value.toPrecision(3)} vs ${f.threshold.toPrecision(3)}, ${f.samples} values)`)
    .join(', ');
}

/** The receipt, or, when rows were refused, a 400 that names each of them and carries the receipt of what was kept. */
function receiptUnlessRefused(refused: SampleRefusal[], receipt: DriftSampleReceipt): DriftSampleReceipt {
  if (refused.length === 0) return receipt;
  const shown = refused.slice(0, 5).map((r) => r.message);
  if (refused.length > shown.length) shown.push(`and ${refused.length - shown.length} more`);
  const kept = receipt.accepted > 0 ? `${receipt.accepted} kept as ${receipt.dataset}@${receipt.datasetVersion}` : 'none kept';
  throw new FoglineError('FOGLINE_ERR_DRIFT_SAMPLES_INVALID', `${refused.length} sample(s) refused (${kept}): ${shown.join('; ')}`, {
    ...receipt,
    refused,
  } satisfies DriftSampleRefusal);
}

/** Unix seconds of a dataset version's newest row (null when it has no time column). */
function endOf(view: DatasetVersionView): number | null {
  return view.timeEnd ? Math.round(Date.parse(view.timeEnd) / 1000) : null;
}
