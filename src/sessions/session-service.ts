import { randomBytes } from 'node:crypto';
import type { OpenSessionRequest, OpenSessionResponse, SessionKind, SessionView } from '../contracts/sessions.js';
import type { DeploymentRepository } from '../deployments/deployment-repository.js';
import type { DesiredStateService } from '../deployments/desired-state.js';
import { FoglineError } from '../errors/fogline-error.js';
import { matchesSelector } from '../nodes/labels.js';
import type { NodeRegistry } from '../nodes/node-registry.js';
import type { ModelRegistry } from '../registry/model-registry.js';
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
}

export const DEFAULT_SESSION_SETTINGS: SessionSettings = {
  maxPerNode: 8,
  connectMs: 60_000,
  idleMs: 300_000,
  maxLoadPerCpu: 4,
  minFreeMemoryFraction: 0.05,
};

/** Closed sessions stay listed (GET /api/v1/sessions?all=true) this long. */
const KEEP_CLOSED_MS = 10 * 60_000;
const SWEEP_MS = 5_000;

interface Session {
  id: string;
  model: string;
  kind: SessionKind;
  placement: 'edge' | 'cloud';
  nodeId: string | null;
  nodeName: string | null;
  state: 'pending' | 'connected' | 'closed';
  reason: string;
  createdAt: number;
  expiresAt: number;
  connectedAt: number | null;
  closedAt: number | null;
  closeReason: string | null;
}

/**
 * 1:1 inference sessions (issue 7, seed 003): places a session on a node that serves the
 * deployment and has room (fewest sessions, then lowest load; locality through a nodeSelector),
 * or on the control plane's own /v2 stream when no node can take it. Hands back a WebSocket URL
 * and a token signed with the registry key, which the socket holder checks; the holder reports
 * `connected` and `closed` (disconnect or idle timeout). Sessions live in this process's memory:
 * a restarted control plane forgets them, and their sockets run on until they close.
 */
export class SessionService {
  private readonly sessions = new Map<string, Session>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: {
      deployments: DeploymentRepository;
      desiredState: DesiredStateService;
      nodes: NodeRegistry;
      models: ModelRegistry;
      signBytes: (message: Buffer) => string;
    },
    readonly settings: SessionSettings = DEFAULT_SESSION_SETTINGS,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.sweep().catch(() => undefined), SWEEP_MS);
    this.timer.unref();
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
        `Deployment ${deployment.name} serves a ${resolved.kind} model: open a ${isImage ? 'image' : 'scalar'} session`,
      );
    }
    const view = await this.deps.desiredState.view(deployment);
    const serving = new Map(view.nodes.filter((n) => n.state === 'serving' && n.servingVersion !== null).map((n) => [n.nodeId, n]));
    const selector = request.nodeSelector ?? {};
    const open = this.openPerNode();
    const candidates: { id: string; name: string; url: string; score: number }[] = [];
    const skipped: string[] = [];
    for (const node of await this.deps.nodes.list()) {
      if (!serving.has(node.id)) continue;
      if (!matchesSelector(node.labels, selector)) continue;
      if (node.status !== 'online' || !node.agent) {
        skipped.push(`${node.name} offline`);
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
      candidates.push({
        id: node.id,
        name: node.name,
        url: node.agent.inferenceUrl,
        score: count / this.settings.maxPerNode + loadPerCpu / this.settings.maxLoadPerCpu + (1 - freeMemory),
      });
    }
    candidates.sort((a, b) => a.score - b.score || a.name.localeCompare(b.name));
    const chosen = candidates[0];
    const now = this.now();
    const id = `ses_${randomBytes(12).toString('base64url')}`;
    const session: Session = {
      id,
      model: deployment.name,
      kind: request.kind,
      placement: chosen ? 'edge' : 'cloud',
      nodeId: chosen?.id ?? null,
      nodeName: chosen?.name ?? null,
      state: 'pending',
      reason: chosen
        ? `${chosen.name} serves ${deployment.name} with room (${open.get(chosen.id) ?? 0} of ${this.settings.maxPerNode} sessions)`
        : `no node can take it${skipped.length > 0 ? `: ${skipped.join(', ')}` : ` (no node${request.nodeSelector ? ' matching the selector' : ''} serves ${deployment.name})`}`,
      createdAt: now,
      expiresAt: now + this.settings.connectMs,
      connectedAt: null,
      closedAt: null,
      closeReason: null,
    };
    const claims: SessionClaims = {
      sid: id,
      model: chosen ? deployment.name : `${resolved.model}/${resolved.version}`,
      node: chosen?.id ?? 'cloud',
      exp: session.expiresAt,
      idleMs: this.settings.idleMs,
    };
    const token = encodeSessionToken(claims, this.deps.signBytes);
    const base = chosen
      ? `${chosen.url.replace(/\/+$/, '')}/v2/models/${encodeURIComponent(deployment.name)}/stream`
      : `${serverUrl.replace(/\/+$/, '')}/v2/models/${encodeURIComponent(resolved.model)}/versions/${resolved.version}/stream`;
    this.sessions.set(id, session);
    return {
      session: toView(session),
      url: `${base.replace(/^http/, 'ws')}?session=${encodeURIComponent(token)}`,
      token,
      connectSeconds: Math.round(this.settings.connectMs / 1000),
      idleSeconds: Math.round(this.settings.idleMs / 1000),
    };
  }

  list(all = false): SessionView[] {
    return [...this.sessions.values()].filter((s) => all || s.state !== 'closed').map(toView);
  }

  get(id: string): SessionView {
    const session = this.sessions.get(id);
    if (!session) throw new FoglineError('FOGLINE_ERR_SESSION_NOT_FOUND', `No session ${id}`);
    return toView(session);
  }

  /** The socket holder's report: `nodeId` null for the control plane's own stream. */
  record(nodeId: string | null, id: string, event: 'connected' | 'closed', reason?: string): SessionView {
    const session = this.sessions.get(id);
    if (!session || session.nodeId !== nodeId) throw new FoglineError('FOGLINE_ERR_SESSION_NOT_FOUND', `No session ${id} on this node`);
    if (event === 'connected' && session.state === 'pending') {
      session.state = 'connected';
      session.connectedAt = this.now();
    } else if (event === 'closed') {
      this.close(session, reason ?? 'disconnected');
    }
    return toView(session);
  }

  /** Closes a session from the API side: the holder is not told, so its socket runs on until it closes or idles out. */
  end(id: string): SessionView {
    const session = this.sessions.get(id);
    if (!session) throw new FoglineError('FOGLINE_ERR_SESSION_NOT_FOUND', `No session ${id}`);
    this.close(session, 'closed through the API');
    return toView(session);
  }

  /** Drops unused tokens' sessions, closes those whose node went offline, forgets old closed ones. */
  async sweep(): Promise<void> {
    const now = this.now();
    const needsNodes = [...this.sessions.values()].some((s) => s.state !== 'closed' && s.nodeId !== null);
    const online = needsNodes ? new Set((await this.deps.nodes.list()).filter((n) => n.status === 'online').map((n) => n.id)) : new Set();
    for (const session of this.sessions.values()) {
      if (session.state === 'closed') {
        if (now - (session.closedAt ?? now) > KEEP_CLOSED_MS) this.sessions.delete(session.id);
      } else if (session.state === 'pending' && now > session.expiresAt) {
        this.close(session, 'never connected');
      } else if (session.nodeId !== null && !online.has(session.nodeId)) {
        this.close(session, 'node offline');
      }
    }
  }

  private close(session: Session, reason: string): void {
    if (session.state === 'closed') return;
    session.state = 'closed';
    session.closedAt = this.now();
    session.closeReason = reason;
  }

  private openPerNode(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const s of this.sessions.values()) {
      if (s.state !== 'closed' && s.nodeId !== null) counts.set(s.nodeId, (counts.get(s.nodeId) ?? 0) + 1);
    }
    return counts;
  }
}

function toView(s: Session): SessionView {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: s.id,
    model: s.model,
    kind: s.kind,
    placement: s.placement,
    nodeId: s.nodeId,
    nodeName: s.nodeName,
    state: s.state,
    reason: s.reason,
    createdAt: new Date(s.createdAt).toISOString(),
    connectedAt: iso(s.connectedAt),
    closedAt: iso(s.closedAt),
    closeReason: s.closeReason,
  };
}
