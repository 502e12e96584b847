import type { BearerToken } from '../../client/bearer-token.js';
import type { JointCounts, OverloadMode } from '../../contracts/deployments.js';
import type { V2ModelMetadata } from '../../contracts/open-inference.js';
import { FoglineError } from '../../errors/fogline-error.js';
import {
  fromV2Response,
  type InferenceCall,
  type InferenceResult,
  type JointAnswer,
  type RanOn,
  toV2Request,
} from '../../inference/inference-call.js';
import type { V2ModelSource } from '../../inference/v2-model-source.js';
import { selectOutputs } from '../../inference/v2-tensors.js';
import type { InferOutput } from '../../ml/bundle/infer-tensors.js';
import { predictedClasses, scoreRows } from '../../ml/joint/edge-outputs.js';
import { HARD_EXAMPLE_RULES } from '../../ml/joint/hard-example.js';
import { type DeployedModels, isServerError } from '../runtime/deployed-models.js';
import { type BreakerState, CircuitBreaker, type CircuitBreakerOptions } from './circuit-breaker.js';
import { CloudClient, CloudInferError } from '../../inference/v2-client.js';
import { CloudEstimate, type CloudEstimateState } from './cloud-estimate.js';
import {
  decideOffload,
  DEFAULT_THRESHOLDS,
  expectedLocalMs,
  type OffloadDecision,
  type OffloadReason,
  type OffloadThresholds,
} from './decide.js';
import { EdgeBudget, type EdgeBudgetOptions, type EdgeBudgetState } from './edge-budget.js';
import { batchOf, type FlatOutput, flatOutputs, mergeRows, readLabels, sliceRows } from './joint-rows.js';
import { type DeploymentJoint, OffloadSettings } from './offload-settings.js';
import { type Pressure, PressureGauge } from './pressure.js';

export {
  CLOUD_MODEL_PARAMETER,
  CLOUD_VERSION_PARAMETER,
  JOINT_PARAMETER,
  JOINT_ROWS_PARAMETER,
  NODE_PARAMETER,
  RAN_ON_PARAMETER,
  REASON_PARAMETER,
} from '../../inference/inference-call.js';

/** What joint inference made of one row: easy (edge answer), hard (cloud answer) or fallback (hard, but the cloud failed: edge answer). */
export type JointOutcome = JointAnswer['outcome'];

/** Answered requests by where they ran: on this node (decided so, or as a fallback) or in the cloud. */
export interface RanWhere {
  local: number;
  offloaded: number;
  /** Joint inference: rows by outcome, and how the labelled ones fared; only for deployments with joint inference. */
  joint?: JointCounts;
}

/** One request through joint inference: its rows by outcome, and its labelled rows' correctness. */
export interface JointEvent extends JointCounts {
  deployment: string;
}

/**
 * One routed request, for metrics: `local` ran on the node as decided, `offloaded` ran in the
 * cloud, `fallback` should have run in the cloud but ran on the node (cloud unreachable, failing,
 * or held off by the circuit breaker).
 */
export interface OffloadEvent {
  deployment: string;
  /** `shed`: answered 429 at once, run nowhere (auto under overload). */
  outcome: 'local' | 'offloaded' | 'fallback' | 'shed';
  reason: OffloadReason;
}

/** What `auto` weighs for one deployment now (GET /api/agent/offload, the agent's metrics). */
export interface OffloadEstimates {
  deployment: string;
  /** Expected completion on the node for a request arriving now, ms. */
  edgeExpectedMs: number;
  edge: EdgeBudgetState;
  cloud: CloudEstimateState;
}

/** Told of every routed request (the agent's Prometheus metrics implement it). */
export interface OffloadObserver {
  routed(event: OffloadEvent): void;
  /** Told of every request answered by joint inference. */
  joint?(event: JointEvent): void;
}

export const NO_OFFLOAD_OBSERVER: OffloadObserver = { routed() {} };

export interface OffloadingModelsOptions {
  observer?: OffloadObserver;
  /** How long an offloaded request may take before the node runs it itself (default 2000 ms). */
  cloudTimeoutMs?: number;
  breaker?: CircuitBreakerOptions;
  thresholds?: OffloadThresholds;
  /** CPU and memory readings (tests replace them). */
  pressure?: () => Pressure;
  /** How long a predictor that failed on the server side is treated as unhealthy by `auto` (default 5000 ms). */
  unhealthyMs?: number;
  /** How the node's compute is budgeted beside the requests it forwards (see EdgeBudget). */
  budget?: EdgeBudgetOptions;
  /** auto, when neither side can answer within the latency target: `shed` (429 + Retry-After, the default) or `queue`. */
  overload?: OverloadMode;
}

/** Where offloaded requests go once the agent is enrolled. */
export interface OffloadTarget {
  server: string;
  /** The node credential, read for each request (it changes when rotated). */
  credential: BearerToken;
  nodeName: string;
}

/**
 * The agent's V2 model source with offloading: each request to a deployment whose policy is not
 * edge-only is routed to the node's own model or to the control plane's V2 endpoint (same model
 * version), decided per request by `decideOffload`. An offloaded request that fails runs on the
 * node, and with `auto` or `cloud-only` a request that fails on the node on the server side (a
 * crashed worker, a model still loading) is tried in the cloud, so the cloud's absence never fails
 * a request that the node could answer. A circuit breaker keeps requests off a cloud that keeps
 * failing (back-off 1 s doubling to 30 s). Every answer says where it ran (`ranOn`, `node`,
 * `reason`). Its settings per deployment are its own (`settings`, fed by the deployment sync).
 */
export class OffloadingModels implements V2ModelSource {
  private target: { client: CloudClient } | undefined;
  private nodeName = '';
  readonly breaker: CircuitBreaker;
  /** Offload and joint settings per deployment, from the desired state. */
  readonly settings: OffloadSettings;
  private readonly observer: OffloadObserver;
  private readonly thresholds: OffloadThresholds;
  private readonly pressure: () => Pressure;
  private readonly cloudTimeoutMs: number;
  private readonly unhealthyMs: number;
  private readonly overload: OverloadMode;
  /** One event loop for every deployment: one budget. */
  private readonly budget: EdgeBudget;
  private readonly cloudEstimates = new Map<string, CloudEstimate>();
  private readonly unhealthyUntil = new Map<string, number>();
  private readonly ran = new Map<string, RanWhere>();

  constructor(
    private readonly models: DeployedModels,
    options: OffloadingModelsOptions = {},
  ) {
    this.observer = options.observer ?? NO_OFFLOAD_OBSERVER;
    this.breaker = new CircuitBreaker(options.breaker);
    this.settings = new OffloadSettings((name) => this.models.serving(name));
    this.thresholds = options.thresholds ?? DEFAULT_THRESHOLDS;
    const gauge = new PressureGauge();
    this.pressure = options.pressure ?? (() => gauge.now());
    this.cloudTimeoutMs = options.cloudTimeoutMs ?? 2000;
    this.unhealthyMs = options.unhealthyMs ?? 5000;
    this.overload = options.overload ?? 'shed';
    this.budget = new EdgeBudget(options.budget);
  }

  /** Once enrolled: the control plane to offload to, with this node's credential. */
  connect(target: OffloadTarget): void {
    this.nodeName = target.nodeName;
    this.target = { client: new CloudClient({ server: target.server, credential: target.credential, timeoutMs: this.cloudTimeoutMs }) };
  }

  breakerState(): BreakerState {
    return this.breaker.state;
  }

  ready(): Promise<boolean> {
    return this.models.ready();
  }

  metadata(name: string, version?: string): Promise<V2ModelMetadata> {
    return this.models.metadata(name, version);
  }

  modelReady(name: string, version?: string): Promise<void> {
    return this.models.modelReady(name, version);
  }

  /** Answered requests per deployment since the agent started, by where they ran (the status report carries them). */
  ranWhere(name: string): RanWhere | undefined {
    return this.ran.get(name);
  }

  async infer(call: InferenceCall): Promise<InferenceResult> {
    const { name, version } = call;
    const queue = this.models.queue(name);
    // A version in the path must be the one served here (else the node's 404): never offload or join around it.
    const versionMismatch = version !== undefined && queue !== undefined && String(queue.version) !== version;
    const joint = versionMismatch ? undefined : this.settings.joint(name);
    const response = joint ? await this.runJoint(call, joint) : await this.route(call, queue, versionMismatch);
    const counts = this.ran.get(name) ?? { local: 0, offloaded: 0 };
    if (response.ranOn === 'cloud') counts.offloaded += 1;
    else counts.local += 1;
    this.ran.set(name, counts);
    return response;
  }

  private async route(call: InferenceCall, queue: ReturnType<DeployedModels['queue']>, versionMismatch: boolean): Promise<InferenceResult> {
    const { name } = call;
    const offload = this.settings.offload(name);
    if (!offload || offload.policy === 'edge-only' || !this.target || versionMismatch) {
      return this.runLocal(call, 'edge-only', false);
    }
    const pressure = this.pressure();
    const now = Date.now();
    const cloud = this.cloudEstimate(name);
    // Undefined after an idle second (the micro-batcher's): the next request runs here and measures it.
    const batchMs = queue?.batchMs;
    // Forwarded requests wait behind the node's own computing: a fifth of the target is as late as the loop may run on average.
    if (pressure.windowMs > 0)
      this.budget.observeLoop(pressure.eventLoopUtilization, pressure.windowMs, pressure.loopDelayMs, offload.latencyTargetMs / 5);
    this.budget.arrived();
    // Only `auto` takes a place in the budget; the fixed policies do not ask.
    const edgeHasBudget = offload.policy === 'auto' && this.budget.take(batchMs);
    const decision = decideOffload(
      {
        policy: offload.policy,
        latencyTargetMs: offload.latencyTargetMs,
        waiting: queue?.waiting ?? 0,
        busy: queue?.busy ?? false,
        batchMs,
        maxBatchSize: queue?.maxBatchSize ?? 1,
        ...pressure,
        predictorHealthy: queue !== undefined && (this.unhealthyUntil.get(name) ?? 0) <= now,
        cloudAvailable: this.breaker.available(),
        edgeHasBudget,
        cloudHasRoom: cloud.hasRoom(),
        cloudExpectedMs: cloud.expectedMs(),
        overload: this.overload,
      },
      this.thresholds,
    );
    // A place taken but not used goes back: the budget counts requests the node runs.
    if (edgeHasBudget && decision.target !== 'edge') this.budget.refund();
    if (decision.target === 'shed') return this.shed(name, decision);
    if (decision.target === 'cloud') {
      const answer = await this.tryCloud(name, offload.inferPath, call, decision.reason);
      if (answer) return answer;
      return this.runLocal(call, 'cloud-error', true);
    }
    try {
      return await this.runLocal(call, decision.reason, decision.fallback, false);
    } catch (error) {
      // The node failed on its side (crashed worker, still loading): the cloud may still answer.
      if (!isServerError(error)) throw error;
      const answer = this.breaker.available() ? await this.tryCloud(name, offload.inferPath, call, 'unhealthy') : undefined;
      if (answer) return answer;
      this.observer.routed({ deployment: name, outcome: decision.fallback ? 'fallback' : 'local', reason: decision.reason });
      throw error;
    }
  }

  /** Sends a request to the cloud; undefined (the node answers it) when that fails. */
  private async tryCloud(name: string, path: string, call: InferenceCall, reason: OffloadReason): Promise<InferenceResult | undefined> {
    const response = await this.callCloud(name, path, call);
    if (!response) return undefined;
    this.observer.routed({ deployment: name, outcome: 'offloaded', reason });
    return this.stamp(name, response, 'cloud', reason);
  }

  /** One call to the cloud through the circuit breaker; undefined when it is held off or fails. */
  private async callCloud(name: string, path: string, call: InferenceCall): Promise<InferenceResult | undefined> {
    const target = this.target;
    if (!target || !this.breaker.allow()) return undefined;
    const estimate = this.cloudEstimate(name);
    const targetMs = this.settings.offload(name)?.latencyTargetMs ?? Infinity;
    const started = performance.now();
    estimate.started();
    this.budget.routed('cloud');
    try {
      const answer = await target.client.inferWithQueue(path, toV2Request(call));
      const response = fromV2Response(answer.response);
      this.breaker.success();
      estimate.finished({ ms: performance.now() - started, ok: true, reportedQueueMs: answer.queueMs }, targetMs);
      return response;
    } catch (error) {
      estimate.finished({ ms: performance.now() - started, ok: false }, targetMs);
      if (error instanceof CloudInferError && !error.cloudFault) this.breaker.success();
      else this.breaker.failure();
      return undefined;
    }
  }

  private cloudEstimate(name: string): CloudEstimate {
    let estimate = this.cloudEstimates.get(name);
    if (!estimate) {
      estimate = new CloudEstimate();
      this.cloudEstimates.set(name, estimate);
    }
    return estimate;
  }

  /** What `auto` weighs now, per deployment with offload settings (for the agent's metrics and status). */
  estimates(): OffloadEstimates[] {
    return [...this.cloudEstimates.entries()].map(([deployment, cloud]) => {
      const queue = this.models.queue(deployment);
      return {
        deployment,
        edgeExpectedMs: queue ? expectedLocalMs(queue) : 0,
        edge: this.budget.state(queue?.batchMs),
        cloud: cloud.state(),
      };
    });
  }

  /** Refuses a request neither side can answer within the target: 429, with when to try again. */
  private shed(name: string, decision: OffloadDecision): never {
    this.observer.routed({ deployment: name, outcome: 'shed', reason: 'overload' });
    // The node's queue drains in about its expected time; a second is the least Retry-After says.
    const retryAfterSeconds = Math.max(1, Math.ceil((decision.expectedLocalMs ?? 0) / 1000));
    const cloud = decision.expectedCloudMs === undefined ? 'full or away' : `about ${Math.round(decision.expectedCloudMs)} ms`;
    throw new FoglineError(
      'FOGLINE_ERR_OVERLOADED',
      `"${name}" is overloaded: the node expects about ${Math.round(decision.expectedLocalMs ?? 0)} ms and the cloud is ${cloud}, past the ${this.settings.offload(name)?.latencyTargetMs ?? '?'} ms target; retry after ${retryAfterSeconds} s`,
      { retryAfterSeconds },
    );
  }

  /**
   * Joint inference: the node's model answers every row; the rows the rule finds hard go to the
   * cloud model in one request, and its answers replace the node's for those rows. When the cloud
   * fails (or is held off) the node's answer stands. A failure of the node's own model on the
   * server side sends the whole request to the cloud model, as offloading does.
   */
  private async runJoint(call: InferenceCall, joint: DeploymentJoint): Promise<InferenceResult> {
    const { name } = call;
    const batch = batchOf(call);
    // Bad labels are the client's error, found before anything runs.
    const labels = readLabels(call, batch);
    let edge: InferenceResult;
    try {
      // Every output: the rule reads some (probabilities) that the client may not have asked for.
      edge = await this.models.infer({ ...call, outputs: undefined });
    } catch (error) {
      if (!isServerError(error)) throw error;
      this.unhealthyUntil.set(name, Date.now() + this.unhealthyMs);
      const answer = await this.tryCloud(
        name,
        joint.inferPath,
        { ...sliceRows(call, [...Array(batch).keys()]), outputs: call.outputs },
        'unhealthy',
      );
      if (answer) return { ...answer, cloudModel: joint.model };
      this.observer.routed({ deployment: name, outcome: 'fallback', reason: 'unhealthy' });
      throw error;
    }
    const edgeOutputs = flatOutputs(edge);
    // An output the client named that the model lacks is its error (400), found before the cloud is asked.
    selectOutputs(edgeOutputs as unknown as InferOutput[], call.outputs);
    const rule = HARD_EXAMPLE_RULES[joint.rule];
    const hardRows = scoreRows(joint.rule, edgeOutputs, batch).flatMap((score, row) => (rule.isHard(score, joint.threshold) ? [row] : []));
    let final: FlatOutput[] = edgeOutputs;
    let cloud: InferenceResult | undefined;
    if (hardRows.length > 0) {
      const answer = await this.callCloud(name, joint.inferPath, sliceRows(call, hardRows));
      try {
        if (answer) [final, cloud] = [mergeRows(edgeOutputs, flatOutputs(answer), hardRows, batch), answer];
      } catch {
        // The cloud's answer does not fit the node's (a model swapped under its selector): the node's stands.
      }
    }
    const hard = new Set(hardRows);
    const rows: JointOutcome[] = Array.from({ length: batch }, (_, r) => (!hard.has(r) ? 'easy' : cloud ? 'hard' : 'fallback'));
    const counts = this.countJoint(name, rows, labels, edgeOutputs, final);
    this.observer.routed({
      deployment: name,
      outcome: cloud ? 'offloaded' : hardRows.length > 0 ? 'fallback' : 'local',
      reason: 'hard-example',
    });
    this.observer.joint?.({ deployment: name, ...counts });
    const allCloud = cloud !== undefined && hardRows.length === batch;
    return {
      modelName: name,
      modelVersion: allCloud ? cloud?.modelVersion || String(joint.version) : edge.modelVersion,
      outputs: selectOutputs(final as unknown as InferOutput[], call.outputs),
      ranOn: cloud ? 'cloud' : 'edge',
      node: this.nodeName,
      reason: 'hard-example',
      joint: { outcome: cloud ? 'hard' : hardRows.length > 0 ? 'fallback' : 'easy', rows },
      ...(cloud ? { cloudModel: joint.model, cloudVersion: cloud.modelVersion || String(joint.version) } : {}),
    };
  }

  /** This request's joint counts, added to the deployment's running totals. */
  private countJoint(
    name: string,
    rows: readonly JointOutcome[],
    labels: readonly (number | null)[] | undefined,
    edge: readonly FlatOutput[],
    final: readonly FlatOutput[],
  ): JointCounts {
    const counts: JointCounts = { easy: 0, hard: 0, fallback: 0, labelled: 0, edgeCorrect: 0, finalCorrect: 0 };
    for (const outcome of rows) counts[outcome] += 1;
    if (labels) {
      const edgeClass = predictedClasses(edge, rows.length);
      const finalClass = predictedClasses(final, rows.length);
      labels.forEach((label, r) => {
        if (label === null) return;
        counts.labelled += 1;
        if (edgeClass[r] === label) counts.edgeCorrect += 1;
        if (finalClass[r] === label) counts.finalCorrect += 1;
      });
    }
    const ran = this.ran.get(name) ?? { local: 0, offloaded: 0 };
    const total = ran.joint ?? { easy: 0, hard: 0, fallback: 0, labelled: 0, edgeCorrect: 0, finalCorrect: 0 };
    for (const key of Object.keys(counts) as (keyof JointCounts)[]) total[key] += counts[key];
    this.ran.set(name, { ...ran, joint: total });
    return counts;
  }

  private async runLocal(call: InferenceCall, reason: OffloadReason, fallback: boolean, markFailures = true): Promise<InferenceResult> {
    const { name } = call;
    let response: InferenceResult;
    this.budget.routed('edge', this.models.queue(name)?.batchMs ?? 0);
    try {
      response = await this.models.infer(call);
    } catch (error) {
      if (isServerError(error)) this.unhealthyUntil.set(name, Date.now() + this.unhealthyMs);
      if (markFailures) this.observer.routed({ deployment: name, outcome: fallback ? 'fallback' : 'local', reason });
      throw error;
    }
    this.observer.routed({ deployment: name, outcome: fallback ? 'fallback' : 'local', reason });
    return this.stamp(name, response, 'edge', reason);
  }

  /** Says where `response` (this request's own, fresh object) ran. */
  private stamp(name: string, response: InferenceResult, ranOn: RanOn, reason: OffloadReason): InferenceResult {
    // The cloud names the registered model; the caller asked for the deployment.
    response.modelName = name;
    response.ranOn = ranOn;
    response.node = this.nodeName;
    response.reason = reason;
    return response;
  }
}
