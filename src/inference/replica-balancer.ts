import { request as undiciRequest } from 'undici';
import { CloudClient, CloudInferError } from './v2-client.js';
import type { V2InferRequest, V2InferResponse, V2ModelMetadata } from '../contracts/open-inference.js';
import type { ModelVersionView } from '../contracts/models.js';
import type { CloudReplica } from './cloud-replicas.js';
import { fromV2Response, type InferenceCall, type InferenceResult, REASON_PARAMETER, toV2Request } from './inference-call.js';
import type { V2ModelSource } from './v2-model-source.js';

export { REPLICA_PARAMETER } from './inference-call.js';
/** The `fogline.replica` of an answer from the control plane's own model. */
export const CONTROL_PLANE_REPLICA = 'control-plane';

export interface ReplicaBalancerOptions {
  /** How often the replica list is re-read and every replica health-checked, ms (default 2000). */
  checkMs?: number;
  /** A health check slower than this fails, ms (default 1000). */
  checkTimeoutMs?: number;
  /** A forwarded request slower than this fails over to the next replica, ms (default 5000). */
  timeoutMs?: number;
  /** Told of every answered request (the control plane's metrics). */
  observer?: ReplicaObserver;
  /** Bearer token for forwarded requests and health checks: agents with --edge-auth token accept it (src/auth/control-plane-edge-token.ts). */
  credential?: string;
}

export interface ReplicaObserver {
  answered(replica: string, outcome: 'ok' | 'failed'): void;
}

/** The control plane's own models (CloudInference): names resolve there, and it answers when no replica can. */
export interface LocalModels extends V2ModelSource {
  resolve(name: string, version?: string): Promise<Pick<ModelVersionView, 'model' | 'version'>>;
}

/** One replica as the balancer sees it now (metrics, docs, tests). */
export interface ReplicaState extends CloudReplica {
  healthy: boolean;
  outstanding: number;
}

interface Tracked {
  replica: CloudReplica;
  client: CloudClient;
  /** False until a health check passes, and after a check or a forwarded request fails. */
  healthy: boolean;
  outstanding: number;
}

/**
 * The control plane's V2 endpoint with cloud replicas (issue 7, item 4): an infer request for a
 * model version that cloud nodes serve goes to the healthy replica with the fewest requests in
 * flight (ties in turn), and fails over to the next one, then to the control plane's own
 * in-process model, so a replica going away never fails a request. Replicas are health-checked
 * (their `/v2/models/<deployment>/ready`) on an interval and dropped from the rotation on a failed
 * check or request until a check passes again. The control plane serves in-process only when no
 * replica can: its event loop stays free for the API while cloud nodes take the inference.
 */
export class ReplicaBalancer implements V2ModelSource {
  private readonly tracked = new Map<string, Tracked>();
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;
  private turn = 0;
  private localOutstanding = 0;
  private readonly checkMs: number;
  private readonly checkTimeoutMs: number;
  private readonly timeoutMs: number;
  private readonly observer: ReplicaObserver | undefined;
  private readonly credential: string | undefined;

  constructor(
    private readonly local: LocalModels,
    private readonly discover: () => Promise<CloudReplica[]>,
    options: ReplicaBalancerOptions = {},
  ) {
    this.checkMs = options.checkMs ?? 2000;
    this.checkTimeoutMs = options.checkTimeoutMs ?? 1000;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.observer = options.observer;
    this.credential = options.credential;
  }

  /** Starts discovery and health checks; the first pass runs now. */
  start(onError?: (error: Error) => void): void {
    if (this.timer) return;
    const pass = () => void this.check().catch((error: unknown) => onError?.(error as Error));
    pass();
    this.timer = setInterval(pass, this.checkMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Re-reads the replicas and health-checks each (one pass at a time). */
  check(): Promise<void> {
    this.checking ??= this.checkNow().finally(() => (this.checking = undefined));
    return this.checking;
  }

  states(): ReplicaState[] {
    return [...this.tracked.values()].map((t) => ({ ...t.replica, healthy: t.healthy, outstanding: t.outstanding }));
  }

  ready(): Promise<boolean> {
    return this.local.ready();
  }

  metadata(name: string, version?: string): Promise<V2ModelMetadata> {
    return this.local.metadata(name, version);
  }

  modelReady(name: string, version?: string): Promise<void> {
    return this.local.modelReady(name, version);
  }

  async infer(call: InferenceCall): Promise<InferenceResult> {
    const view = await this.local.resolve(call.name, call.version);
    const tried = new Set<Tracked>();
    // Built once, for whichever replicas are tried.
    let forwarded: V2InferRequest | undefined;
    for (let next = this.pick(view.model, view.version, tried); next; next = this.pick(view.model, view.version, tried)) {
      tried.add(next);
      forwarded ??= toV2Request(call);
      const answer = await this.forward(next, forwarded);
      if (answer) return fromReplica(answer, view.model, next.replica.nodeName);
    }
    this.localOutstanding += 1;
    try {
      const answer = await this.local.infer(call);
      this.observer?.answered(CONTROL_PLANE_REPLICA, 'ok');
      return { ...answer, replica: CONTROL_PLANE_REPLICA };
    } catch (error) {
      this.observer?.answered(CONTROL_PLANE_REPLICA, 'failed');
      throw error;
    } finally {
      this.localOutstanding -= 1;
    }
  }

  /** Requests in flight on the control plane's own model. */
  get controlPlaneOutstanding(): number {
    return this.localOutstanding;
  }

  /** The healthy replica of model@version with the fewest requests in flight, not yet tried. */
  private pick(model: string, version: number, tried: ReadonlySet<Tracked>): Tracked | undefined {
    let best: Tracked[] = [];
    for (const t of this.tracked.values()) {
      if (!t.healthy || tried.has(t) || t.replica.model !== model || t.replica.version !== version) continue;
      if (best.length === 0 || t.outstanding < best[0]!.outstanding) best = [t];
      else if (t.outstanding === best[0]!.outstanding) best.push(t);
    }
    if (best.length === 0) return undefined;
    this.turn = (this.turn + 1) % 1_000_000;
    return best[this.turn % best.length];
  }

  /** The replica's answer; undefined when it failed (the caller moves on). */
  private async forward(t: Tracked, request: V2InferRequest): Promise<V2InferResponse | undefined> {
    const { deployment, version } = t.replica;
    t.outstanding += 1;
    try {
      const answer = await t.client.infer(`/v2/models/${encodeURIComponent(deployment)}/versions/${version}/infer`, request);
      this.observer?.answered(t.replica.nodeName, 'ok');
      return answer;
    } catch (error) {
      // A request the replica refused as bad (400, 413) is answered by the control plane's own
      // model, with its own error; anything else takes the replica out until a check passes.
      if (!(error instanceof CloudInferError) || error.cloudFault) t.healthy = false;
      this.observer?.answered(t.replica.nodeName, 'failed');
      return undefined;
    } finally {
      t.outstanding -= 1;
    }
  }

  private async checkNow(): Promise<void> {
    const found = await this.discover();
    const ids = new Set(found.map((r) => r.id));
    for (const id of this.tracked.keys()) if (!ids.has(id)) this.tracked.delete(id);
    for (const replica of found) {
      const known = this.tracked.get(replica.id);
      if (known && known.replica.url === replica.url && known.replica.version === replica.version) continue;
      this.tracked.set(replica.id, {
        replica,
        client: new CloudClient({ server: replica.url, timeoutMs: this.timeoutMs, credential: this.credential }),
        healthy: false,
        outstanding: 0,
      });
    }
    await Promise.all([...this.tracked.values()].map(async (t) => (t.healthy = await this.probe(t.replica))));
  }

  private async probe(replica: CloudReplica): Promise<boolean> {
    try {
      const response = await undiciRequest(new URL(`/v2/models/${encodeURIComponent(replica.deployment)}/ready`, replica.url), {
        ...(this.credential ? { headers: { authorization: `Bearer ${this.credential}` } } : {}),
        signal: AbortSignal.timeout(this.checkTimeoutMs),
        headersTimeout: this.checkTimeoutMs,
        bodyTimeout: this.checkTimeoutMs,
      });
      await response.body.dump();
      return response.statusCode === 200;
    } catch {
      return false;
    }
  }
}

/**
 * A replica's answer as the control plane gives it: the registered model's name (the agent names
 * its deployment), run in the cloud (the agent, being there, says "edge"), by which replica.
 */
function fromReplica(answer: V2InferResponse, model: string, replica: string): InferenceResult {
  const { [REASON_PARAMETER]: _reason, ...parameters } = answer.parameters ?? {};
  return { ...fromV2Response(answer), modelName: model, parameters, ranOn: 'cloud', replica };
}
