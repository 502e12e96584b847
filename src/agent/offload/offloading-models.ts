import type { V2InferRequest, V2InferResponse, V2ModelMetadata } from '../../contracts/open-inference.js';
import type { V2ModelSource } from '../../inference/v2-model-source.js';
import { type DeployedModels, isServerError } from '../runtime/deployed-models.js';
import { type BreakerState, CircuitBreaker, type CircuitBreakerOptions } from './circuit-breaker.js';
import { CloudClient, CloudInferError } from './cloud-client.js';
import { decideOffload, DEFAULT_THRESHOLDS, type OffloadReason, type OffloadThresholds, type RanOn } from './decide.js';
import { type Pressure, PressureGauge } from './pressure.js';

/** The response `parameters` that say where a request ran. */
export const RAN_ON_PARAMETER = 'fogline.ran_on';
export const NODE_PARAMETER = 'fogline.node';
export const REASON_PARAMETER = 'fogline.offload_reason';

/**
 * One routed request, for metrics: `local` ran on the node as decided, `offloaded` ran in the
 * cloud, `fallback` should have run in the cloud but ran on the node (cloud unreachable, failing,
 * or held off by the circuit breaker).
 */
/** Answered requests by where they ran: on this node (decided so, or as a fallback) or in the cloud. */
export interface RanWhere {
  local: number;
  offloaded: number;
}

export interface OffloadEvent {
  deployment: string;
  outcome: 'local' | 'offloaded' | 'fallback';
  reason: OffloadReason;
}

/** Told of every routed request (the agent's Prometheus metrics implement it). */
export interface OffloadObserver {
  routed(event: OffloadEvent): void;
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
}

/** Where offloaded requests go once the agent is enrolled. */
export interface OffloadTarget {
  server: string;
  credential: string;
  nodeName: string;
}

/**
 * The agent's V2 model source with offloading: each request to a deployment whose policy is not
 * edge-only is routed to the node's own model or to the control plane's V2 endpoint (same model
 * version), decided per request by `decideOffload`. An offloaded request that fails runs on the
 * node, and with `auto` or `cloud-only` a request that fails on the node on the server side (a
 * crashed worker, a model still loading) is tried in the cloud, so the cloud's absence never fails
 * a request that the node could answer. A circuit breaker keeps requests off a cloud that keeps
 * failing (back-off 1 s doubling to 30 s). Every answer says where it ran in its `parameters`.
 */
export class OffloadingModels implements V2ModelSource {
  private target: { client: CloudClient } | undefined;
  private nodeName = '';
  readonly breaker: CircuitBreaker;
  private readonly observer: OffloadObserver;
  private readonly thresholds: OffloadThresholds;
  private readonly pressure: () => Pressure;
  private readonly cloudTimeoutMs: number;
  private readonly unhealthyMs: number;
  private readonly unhealthyUntil = new Map<string, number>();
  private readonly cloudLatencyMs = new Map<string, number>();
  private readonly ran = new Map<string, RanWhere>();

  constructor(
    private readonly models: DeployedModels,
    options: OffloadingModelsOptions = {},
  ) {
    this.observer = options.observer ?? NO_OFFLOAD_OBSERVER;
    this.breaker = new CircuitBreaker(options.breaker);
    this.thresholds = options.thresholds ?? DEFAULT_THRESHOLDS;
    const gauge = new PressureGauge();
    this.pressure = options.pressure ?? (() => gauge.now());
    this.cloudTimeoutMs = options.cloudTimeoutMs ?? 2000;
    this.unhealthyMs = options.unhealthyMs ?? 5000;
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

  async infer(name: string, version: string | undefined, request: V2InferRequest): Promise<V2InferResponse> {
    const response = await this.route(name, version, request);
    const counts = this.ran.get(name) ?? { local: 0, offloaded: 0 };
    if (response.parameters?.[RAN_ON_PARAMETER] === 'cloud') counts.offloaded += 1;
    else counts.local += 1;
    this.ran.set(name, counts);
    return response;
  }

  private async route(name: string, version: string | undefined, request: V2InferRequest): Promise<V2InferResponse> {
    const offload = this.models.offload(name);
    const queue = this.models.queue(name);
    // A version in the path must be the one served here (else the node's 404): never offload around it.
    const versionMismatch = version !== undefined && queue !== undefined && String(queue.version) !== version;
    if (!offload || offload.policy === 'edge-only' || !this.target || versionMismatch) {
      return this.runLocal(name, version, request, 'edge-only', false);
    }
    const pressure = this.pressure();
    const decision = decideOffload(
      {
        policy: offload.policy,
        latencyTargetMs: offload.latencyTargetMs,
        waiting: queue?.waiting ?? 0,
        busy: queue?.busy ?? false,
        batchMs: queue?.batchMs,
        maxBatchSize: queue?.maxBatchSize ?? 1,
        ...pressure,
        predictorHealthy: queue !== undefined && (this.unhealthyUntil.get(name) ?? 0) <= Date.now(),
        cloudAvailable: this.breaker.available(),
        cloudLatencyMs: this.cloudLatencyMs.get(name),
      },
      this.thresholds,
    );
    if (decision.target === 'cloud') {
      const answer = await this.tryCloud(name, offload.inferPath, request, decision.reason);
      if (answer) return answer;
      return this.runLocal(name, version, request, 'cloud-error', true);
    }
    try {
      return await this.runLocal(name, version, request, decision.reason, decision.fallback, false);
    } catch (error) {
      // The node failed on its side (crashed worker, still loading): the cloud may still answer.
      if (!isServerError(error)) throw error;
      const answer = this.breaker.available() ? await this.tryCloud(name, offload.inferPath, request, 'unhealthy') : undefined;
      if (answer) return answer;
      this.observer.routed({ deployment: name, outcome: decision.fallback ? 'fallback' : 'local', reason: decision.reason });
      throw error;
    }
  }

  /** Sends a request to the cloud; undefined (the node answers it) when that fails. */
  private async tryCloud(name: string, path: string, request: V2InferRequest, reason: OffloadReason): Promise<V2InferResponse | undefined> {
    const target = this.target;
    if (!target || !this.breaker.allow()) return undefined;
    const started = performance.now();
    try {
      const response = await target.client.infer(path, request);
      this.breaker.success();
      const ms = performance.now() - started;
      const last = this.cloudLatencyMs.get(name);
      this.cloudLatencyMs.set(name, last === undefined ? ms : last + 0.2 * (ms - last));
      this.observer.routed({ deployment: name, outcome: 'offloaded', reason });
      return this.stamp(name, response, 'cloud', reason);
    } catch (error) {
      if (error instanceof CloudInferError && !error.cloudFault) this.breaker.success();
      else this.breaker.failure();
      return undefined;
    }
  }

  private async runLocal(
    name: string,
    version: string | undefined,
    request: V2InferRequest,
    reason: OffloadReason,
    fallback: boolean,
    markFailures = true,
  ): Promise<V2InferResponse> {
    let response: V2InferResponse;
    try {
      response = await this.models.infer(name, version, request);
    } catch (error) {
      if (isServerError(error)) this.unhealthyUntil.set(name, Date.now() + this.unhealthyMs);
      if (markFailures) this.observer.routed({ deployment: name, outcome: fallback ? 'fallback' : 'local', reason });
      throw error;
    }
    this.observer.routed({ deployment: name, outcome: fallback ? 'fallback' : 'local', reason });
    return this.stamp(name, response, 'edge', reason);
  }

  private stamp(name: string, response: V2InferResponse, ranOn: RanOn, reason: OffloadReason): V2InferResponse {
    return {
      ...response,
      // The cloud names the registered model; the caller asked for the deployment.
      model_name: name,
      parameters: { ...response.parameters, [RAN_ON_PARAMETER]: ranOn, [NODE_PARAMETER]: this.nodeName, [REASON_PARAMETER]: reason },
    };
  }
}
