import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { ModelVersionView } from '../contracts/models.js';
import type { NodeView } from '../contracts/nodes.js';
import type { OpenSessionRequest, OpenSessionResponse, SessionView } from '../contracts/sessions.js';
import type { ChangeSignal } from '../deployments/change-signal.js';
import type { DeploymentRecord, DeploymentRepository } from '../deployments/deployment-repository.js';
import type { DesiredStateService } from '../deployments/desired-state.js';
import type { OnDemandPlacements } from '../deployments/on-demand-placements.js';
import { MEMORY_PER_BUNDLE_BYTE } from '../deployments/placement.js';
import { FoglineError } from '../errors/fogline-error.js';
import { matchesSelector } from '../nodes/labels.js';
import { isApproved, takesNewWork } from '../nodes/node-eligibility.js';
import type { NodeRegistry } from '../nodes/node-registry.js';
import type { ModelRegistry } from '../registry/model-registry.js';
import type { Database } from '../store/schema.js';
import { type SessionPatch, type SessionRecord, SessionRepository, toSessionView } from './session-repository.js';
import { encodeSessionToken, type SessionClaims } from './session-token.js';

export interface SessionSettings {
  /** Open (pending or connected) sessions one node takes before new ones go elsewhere. */
  maxPerNode: number;
  /** A token not used within this is worthless, and its pending session is dropped. */
  connectMs: number;
  /** The socket holder closes a session after this long without a message. */
  idleMs: number;
  /** A node busier than this (1-minute load per CPU) or with less free memory gets no new session. */
  maxLoadPerCpu: number;
  minFreeMemoryFraction: number;
  /** How long a session waits for a node to load the model on demand before it goes to the cloud (0: never load on demand). */
  loadTimeoutMs: number;
  /** An on-demand placement is released once its node has had no open session of the deployment for this long. */
  releaseAfterMs: number;
}

export const DEFAULT_SESSION_SETTINGS: SessionSettings = {
  maxPerNode: 8,
  connectMs: 60_000,
  idleMs: 300_000,
  maxLoadPerCpu: 4,
  minFreeMemoryFraction: 0.05,
  loadTimeoutMs: 30_000,
  releaseAfterMs: 300_000,
};

/** Closed sessions stay listed (GET /api/v1/sessions?all=true) this long. */
const KEEP_CLOSED_MS = 10 * 60_000;
const SWEEP_MS = 5_000;
/** How often a session waiting for an on-demand load looks at the node's report. */
const LOAD_POLL_MS = 250;

interface Candidate {
  node: NodeView;
  url: string;
  count: number;
  score: number;
}

/**
 * 1:1 inference sessions (issue 7, seed 003): places a session on a node that serves the
 * deployment and has room (fewest sessions, then lowest load; locality through a nodeSelector).
 * When none can take it but a node matching the request could, the deployment is loaded there on
 * demand (an on-demand placement: desired state sends it the version the rollout assigns) and the
 * session waits, up to `loadTimeoutMs`, for the node to report it serving; otherwise, or when the
 * load does not finish in time, the session goes to the control plane's own /v2 stream. Hands back
 * a WebSocket URL and a token signed with the registry key, which the socket holder checks; the
 * holder reports `connected` and `closed` (disconnect or idle timeout). Sessions are kept in the
 * store: a restarted control plane lists them and keeps to the per-node limit.
 */
export class SessionService {
  private timer: NodeJS.Timeout | undefined;
  /** Placement decisions (count, choose, reserve) run one at a time, so two opens cannot overfill a node. */
  private placing: Promise<unknown> = Promise.resolve();
  private readonly repository: SessionRepository;
  private startedAt: number | undefined;
  private leftoversClosed = false;

  constructor(
    private readonly deps: {
      db: Kysely<Database>;
      deployments: DeploymentRepository;
      desiredState: DesiredStateService;
      nodes: NodeRegistry;
      models: ModelRegistry;
      onDemand: OnDemandPlacements;
      /** Wakes the nodes' desired-state long polls after an on-demand placement changes. */
      changes: ChangeSignal;
      signBytes: (message: Buffer) => string;
    },
    readonly settings: SessionSettings = DEFAULT_SESSION_SETTINGS,
    private readonly now: () => number = Date.now,
  ) {
    this.repository = new SessionRepository(deps.db);
  }

  /**
   * Starts the sweep. Cloud sessions left open by a previous control-plane process are closed
   * first: their sockets ended with that process.
   */
  async start(): Promise<void> {
    if (this.timer) return;
    this.startedAt = this.now();
    this.timer = setInterval(() => void this.sweep().catch(() => undefined), SWEEP_MS);
    this.timer.unref();
    // With the database away at start, the next sweep does it.
    await this.closeLeftovers().catch(() => undefined);
  }

  /** Closes the cloud sessions opened before this process started (once). */
  private async closeLeftovers(): Promise<void> {
    if (this.leftoversClosed || this.startedAt === undefined) return;
    const before = this.startedAt;
    const cloud = (await this.repository.list()).filter((s) => s.placement === 'cloud' && s.createdAt < before).map((s) => s.id);
    await this.repository.close(cloud, 'control plane restarted', this.now());
    this.leftoversClosed = true;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Places a session; `serverUrl` is this control plane as the client reached it (for cloud sessions). */
  async open(request: OpenSessionRequest, serverUrl: string): Promise<OpenSessionResponse> {
    const deployment = await this.deps.deployments.get(request.model);
    const resolved = await this.deps.models.resolve(deployment.modelSelector).catch(() => undefined);
    if (!resolved) {
      throw new FoglineError(
        'FOGLINE_ERR_MODEL_NOT_FOUND',
        `Deployment ${deployment.name} resolves to no model version (${deployment.modelSelector})`,
      );
    }
    const isImage = resolved.kind.includes('image');
    if (isImage !== (request.kind === 'image')) {
      throw new FoglineError(
        'FOGLINE_ERR_SESSION_KIND_MISMATCH',
        `Deployment ${deployment.name} serves a model of kind ${resolved.kind}: open ${isImage ? 'an image' : 'a scalar'} session`,
      );
    }
    const placed = await this.serialized(() => this.place(deployment, resolved, request));
    let session = placed.session;
    if (placed.loading) {
      const outcome = await this.waitServing(deployment, placed.loading, session.id, placed.loading.since);
      const now = this.now();
      const patch: SessionPatch = outcome.served
        ? {
            reason: `${placed.loading.node.name} loaded ${deployment.name} on demand in ${((Date.now() - placed.loading.since) / 1000).toFixed(1)} s (${placed.reason})`,
            expiresAt: now + this.settings.connectMs,
          }
        : {
            placement: 'cloud',
            nodeId: null,
            nodeName: null,
            reason: `loading ${deployment.name} on ${placed.loading.node.name} ${outcome.why}: the cloud (${placed.reason})`,
            expiresAt: now + this.settings.connectMs,
          };
      if (!(await this.repository.updatePending(session.id, patch))) {
        // Closed while it waited (closed through the API, or the node went offline).
        const current = await this.repository.get(session.id);
        throw new FoglineError(
          'FOGLINE_ERR_SESSION_NOT_FOUND',
          `Session ${session.id} was closed while its model loaded: ${current.closeReason ?? ''}`,
        );
      }
      session = { ...session, ...patch };
    }
    return this.connection(session, deployment.name, resolved, placed.loading?.url ?? placed.url, serverUrl);
  }

  async list(all = false): Promise<SessionView[]> {
    return (await this.repository.list(all)).map(toSessionView);
  }

  async get(id: string): Promise<SessionView> {
    return toSessionView(await this.repository.get(id));
  }

  /** The socket holder's report: `nodeId` null for the control plane's own stream. */
  async record(nodeId: string | null, id: string, event: 'connected' | 'closed', reason?: string): Promise<SessionView> {
    const session = await this.repository.find(id);
    if (!session || (nodeId === null && session.nodeId !== null)) {
      throw new FoglineError('FOGLINE_ERR_SESSION_NOT_FOUND', `No session ${id} on this node`);
    }
    if (session.nodeId !== nodeId) {
      // Another node's session (or a cloud one): not this node's to report on (issue 14).
      throw new FoglineError(
        'FOGLINE_ERR_NODE_NOT_ASSIGNED',
        `Session ${id} is not placed on this node: its event was refused and nothing was written`,
        { session: id },
      );
    }
    if (event === 'connected') await this.repository.markConnected(id, this.now());
    else await this.repository.close([id], reason ?? 'disconnected', this.now());
    return this.get(id);
  }

  /** Closes a session from the API side: the holder is not told, so its socket runs on until it closes or idles out. */
  async end(id: string): Promise<SessionView> {
    await this.repository.get(id);
    await this.repository.close([id], 'closed through the API', this.now());
    return this.get(id);
  }

  /**
   * Drops unused tokens' sessions, closes those whose node went offline, forgets old closed ones,
   * and releases on-demand placements whose node has had no open session for `releaseAfterMs`.
   */
  async sweep(): Promise<void> {
    await this.closeLeftovers();
    const now = this.now();
    await this.repository.expirePending(now);
    const open = await this.repository.list();
    const onDemand = await this.deps.onDemand.list();
    if (open.some((s) => s.nodeId !== null)) {
      const online = new Set((await this.deps.nodes.list()).filter((n) => n.status === 'online').map((n) => n.id));
      const gone = open.filter((s) => s.nodeId !== null && !online.has(s.nodeId));
      await this.repository.close(
        gone.map((s) => s.id),
        'node offline',
        now,
      );
    }
    await this.repository.forgetClosed(now - KEEP_CLOSED_MS);
    const inUse = new Set(open.filter((s) => s.nodeId !== null).map((s) => `${s.model}\u0000${s.nodeId}`));
    let released = false;
    for (const placement of onDemand) {
      if (inUse.has(`${placement.deployment}\u0000${placement.nodeId}`))
        await this.deps.onDemand.touch(placement.deployment, placement.nodeId);
      else if (now - placement.lastUsedAt >= this.settings.releaseAfterMs)
        released = (await this.deps.onDemand.remove(placement.deployment, placement.nodeId)) || released;
    }
    if (released) this.deps.changes.notify();
  }

  private serialized<T>(task: () => Promise<T>): Promise<T> {
    const run = this.placing.then(task, task);
    this.placing = run.catch(() => undefined);
    return run;
  }

  /** Chooses where the session goes and stores it (pending); `loading` when it waits for an on-demand load. */
  private async place(
    deployment: DeploymentRecord,
    resolved: ModelVersionView,
    request: OpenSessionRequest,
  ): Promise<{ session: SessionRecord; url?: string; loading?: Candidate & { since: number }; reason: string }> {
    // One read of the nodes serves both the deployment's view and the choice.
    const nodes = await this.deps.nodes.list();
    const view = await this.deps.desiredState.view(deployment, nodes);
    const reports = new Map(view.nodes.map((n) => [n.nodeId, n]));
    const selector = request.nodeSelector ?? {};
    const open = await this.repository.openPerNode();
    const serving: Candidate[] = [];
    const loadable: Candidate[] = [];
    const skipped: string[] = [];
    for (const node of nodes) {
      // A pending node gets no sessions, whatever it reports.
      if (!matchesSelector(node.labels, selector) || !isApproved(node)) continue;
      const report = reports.get(node.id);
      // Only where the deployment is placed now: a node it was released from may still show its last report.
      const placedHere = report !== undefined && report.assignedVersion !== null;
      const serves = placedHere && report.state === 'serving' && report.servingVersion !== null;
      const failed = placedHere && report.state === 'failed' && report.version === report.assignedVersion;
      // Where the control plane itself was told the agent serves (enrolment, an operator), never a heartbeat's word.
      if (node.status !== 'online' || !node.inferenceUrl) {
        if (serves) skipped.push(`${node.name} offline`);
        continue;
      }
      const count = open.get(node.id) ?? 0;
      if (count >= this.settings.maxPerNode) {
        skipped.push(`${node.name} full (${count} sessions)`);
        continue;
      }
      const r = node.resources;
      const loadPerCpu = r ? (r.loadAverage[0] ?? 0) / r.cpuCount : 0;
      const freeMemory = r && r.memoryTotalBytes > 0 ? r.memoryFreeBytes / r.memoryTotalBytes : 1;
      if (loadPerCpu >= this.settings.maxLoadPerCpu || freeMemory < this.settings.minFreeMemoryFraction) {
        skipped.push(`${node.name} short of resources`);
        continue;
      }
      const candidate = {
        node,
        url: node.inferenceUrl,
        count,
        score: count / this.settings.maxPerNode + loadPerCpu / this.settings.maxLoadPerCpu + (1 - freeMemory),
      };
      if (serves) serving.push(candidate);
      else if (failed) skipped.push(`${node.name} failed to load it (${report.reason ?? 'no reason given'})`);
      else if (
        takesNewWork(node) &&
        r !== null &&
        r.memoryFreeBytes >= resolved.artifact.sizeBytes * MEMORY_PER_BUNDLE_BYTE &&
        this.settings.loadTimeoutMs > 0
      )
        loadable.push(candidate);
      else skipped.push(`${node.name} cannot load it${node.cordoned ? ' (cordoned)' : ''}`);
    }
    const best = (list: Candidate[]) => list.sort((a, b) => a.score - b.score || a.node.name.localeCompare(b.node.name))[0];
    const chosen = best(serving);
    const now = this.now();
    const base = {
      id: `ses_${randomBytes(12).toString('base64url')}`,
      model: deployment.name,
      kind: request.kind,
      state: 'pending' as const,
      createdAt: now,
      connectedAt: null,
      closedAt: null,
      closeReason: null,
    };
    const why = `no node serving it can take the session${skipped.length > 0 ? `: ${skipped.join(', ')}` : ` (no node${request.nodeSelector ? ' matching the selector' : ''} serves ${deployment.name})`}`;
    if (chosen) {
      const session: SessionRecord = {
        ...base,
        placement: 'edge',
        nodeId: chosen.node.id,
        nodeName: chosen.node.name,
        reason: `${chosen.node.name} serves ${deployment.name} with room (${chosen.count} of ${this.settings.maxPerNode} sessions)`,
        expiresAt: now + this.settings.connectMs,
      };
      await this.repository.insert(session);
      return { session, url: chosen.url, reason: session.reason };
    }
    const loading = best(loadable);
    if (loading) {
      const since = Date.now();
      // Reserve the node (the session counts against its limit while the model loads) and place the deployment there.
      const session: SessionRecord = {
        ...base,
        placement: 'edge',
        nodeId: loading.node.id,
        nodeName: loading.node.name,
        reason: `loading ${deployment.name} on ${loading.node.name} on demand (${why})`,
        expiresAt: now + this.settings.loadTimeoutMs + this.settings.connectMs,
      };
      await this.repository.insert(session);
      const selectorTargets = matchesSelector(loading.node.labels, deployment.nodeSelector);
      if (!selectorTargets && (await this.deps.onDemand.add(deployment.name, loading.node.id))) this.deps.changes.notify();
      return { session, loading: { ...loading, since }, reason: why };
    }
    const session: SessionRecord = {
      ...base,
      placement: 'cloud',
      nodeId: null,
      nodeName: null,
      reason: `no node can take it${skipped.length > 0 ? `: ${skipped.join(', ')}` : ` (no node${request.nodeSelector ? ' matching the selector' : ''} serves or can load ${deployment.name})`}`,
      expiresAt: now + this.settings.connectMs,
    };
    await this.repository.insert(session);
    return { session, reason: session.reason };
  }

  /** Waits (polling the node's reports, without holding anything up) until the node serves what it is assigned, fails, or time runs out. */
  private async waitServing(
    deployment: DeploymentRecord,
    loading: Candidate,
    sessionId: string,
    startedAt: number,
  ): Promise<{ served: true } | { served: false; why: string }> {
    // Real time, whatever clock the sessions are stamped with: the node takes real time to load.
    const deadline = startedAt + this.settings.loadTimeoutMs;
    for (;;) {
      // Only reports made since the load was asked for: a node the deployment was released from earlier
      // still has its last report ("serving"), from before it unloaded the model. Each poll reads that
      // one report; the deployment's view (every node, the placement) only once it says serving or failed.
      const status = await this.deps.deployments.statusOf(deployment.name, loading.node.id);
      if (status && status.updatedAt >= startedAt && (status.state === 'serving' || status.state === 'failed')) {
        const view = await this.deps.desiredState.view(await this.deps.deployments.get(deployment.name));
        const report = view.nodes.find((n) => n.nodeId === loading.node.id);
        const fresh = report?.updatedAt != null && Date.parse(report.updatedAt) >= startedAt;
        if (report && fresh && report.assignedVersion !== null) {
          if (report.state === 'serving' && report.servingVersion === report.assignedVersion) return { served: true };
          if (report.state === 'failed' && report.version === report.assignedVersion)
            return { served: false, why: `failed (${report.reason ?? 'no reason given'})` };
        }
      }
      const session = await this.repository.find(sessionId);
      if (!session || session.state !== 'pending') return { served: false, why: 'was interrupted (the session was closed)' };
      if (Date.now() >= deadline) return { served: false, why: `did not finish within ${this.settings.loadTimeoutMs / 1000} s` };
      await new Promise((resolve) => setTimeout(resolve, LOAD_POLL_MS));
    }
  }

  private connection(
    session: SessionRecord,
    deploymentName: string,
    resolved: ModelVersionView,
    nodeUrl: string | undefined,
    serverUrl: string,
  ): OpenSessionResponse {
    const edge = session.placement === 'edge' && session.nodeId !== null && nodeUrl !== undefined;
    const claims: SessionClaims = {
      sid: session.id,
      model: edge ? deploymentName : `${resolved.model}/${resolved.version}`,
      node: edge ? (session.nodeId as string) : 'cloud',
      exp: session.expiresAt,
      idleMs: this.settings.idleMs,
    };
    const token = encodeSessionToken(claims, this.deps.signBytes);
    const base = edge
      ? `${nodeUrl.replace(/\/+$/, '')}/v2/models/${encodeURIComponent(deploymentName)}/stream`
      : `${serverUrl.replace(/\/+$/, '')}/v2/models/${encodeURIComponent(resolved.model)}/versions/${resolved.version}/stream`;
    return {
      session: toSessionView(session),
      url: `${base.replace(/^http/, 'ws')}?session=${encodeURIComponent(token)}`,
      token,
      connectSeconds: Math.round(this.settings.connectMs / 1000),
      idleSeconds: Math.round(this.settings.idleMs / 1000),
    };
  }
}
