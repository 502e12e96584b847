import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ServerResponse } from 'node:http';
import { IdParams } from '../../contracts/common.js';
import { type HeartbeatEventSample, type LiveEventMap, type LiveEventName, ResourceHistoryView } from '../../contracts/live.js';
import type { HeartbeatRequest } from '../../contracts/nodes.js';
import type { RunView } from '../../contracts/runs.js';
import type { ChangeSignal } from '../../deployments/change-signal.js';
import type { NodeRegistry } from '../../nodes/node-registry.js';
import { ResourceHistory } from '../../nodes/resource-history.js';
import type { RunEngine } from '../../pipelines/run-engine.js';
import type { Services } from '../services.js';
import { ERROR_RESPONSES } from './errors.js';

/** A client that lets this much pile up unsent is too slow: it is disconnected and refetches when it reconnects. */
export const MAX_BUFFERED_BYTES = 256 * 1024;
/** Heartbeats are sent in batches (at most one sample per node a batch). */
const HEARTBEAT_FLUSH_MS = 2000;
/** Deployment status reports arrive in bursts during a rollout: one event per burst. */
const DEPLOYMENTS_FLUSH_MS = 300;
/** How often active runs are looked at while someone listens. */
const RUN_POLL_MS = 1000;
/** A comment line keeps proxies and browsers from closing an idle stream. */
const KEEPALIVE_MS = 20_000;
/** Connections at once; more are refused with 503 so that a leak cannot exhaust the server. */
const MAX_CLIENTS = 1000;

export interface LiveEventsOptions {
  changes: ChangeSignal;
  runs: RunEngine;
  heartbeatFlushMs?: number;
  runPollMs?: number;
}

interface Client {
  res: ServerResponse;
}

/**
 * Fans changes out to the dashboards listening on `GET /api/v1/events`. The sources only work
 * while someone listens: the change signal, heartbeats and deployment status reports (seen by an
 * onResponse hook, so their routes need not know), and a once-a-second look at active runs.
 */
export class LiveEvents {
  private readonly clients = new Set<Client>();
  private readonly pendingHeartbeats = new Map<string, HeartbeatEventSample>();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private deploymentsTimer: NodeJS.Timeout | undefined;
  private runTimer: NodeJS.Timeout | undefined;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private changeLoop: AbortController | undefined;
  /** Last seen state of each active run, to send only what changed. */
  private runDigests = new Map<string, string>();
  private closed = false;

  constructor(private readonly options: LiveEventsOptions) {}

  get clientCount(): number {
    return this.clients.size;
  }

  /** Takes over the response: headers, the hello event, then events until either side closes. */
  subscribe(res: ServerResponse): boolean {
    if (this.closed || this.clients.size >= MAX_CLIENTS) return false;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const client: Client = { res };
    this.clients.add(client);
    res.on('close', () => this.drop(client));
    this.send(client, 'hello', { serverTime: new Date().toISOString() });
    if (this.clients.size === 1) this.startSources();
    return true;
  }

  /** Ends every stream (server shutdown). */
  close(): void {
    this.closed = true;
    for (const client of [...this.clients]) client.res.end();
    this.clients.clear();
    this.stopSources();
  }

  heartbeat(sample: HeartbeatEventSample): void {
    if (this.clients.size === 0) return;
    this.pendingHeartbeats.set(sample.nodeId, sample);
    this.heartbeatTimer ??= setTimeout(() => {
      this.heartbeatTimer = undefined;
      const samples = [...this.pendingHeartbeats.values()];
      this.pendingHeartbeats.clear();
      if (samples.length > 0) this.broadcast('heartbeats', { samples });
    }, this.options.heartbeatFlushMs ?? HEARTBEAT_FLUSH_MS);
  }

  /**
   * A change made through this replica's API (a token, a dataset, a policy, …): dashboards refetch.
   * Changes that shape desired state also come as change events, from any replica.
   */
  changedHere(): void {
    if (this.clients.size === 0) return;
    this.broadcast('change', { generation: this.options.changes.generation });
  }

  deploymentStatus(): void {
    if (this.clients.size === 0) return;
    this.deploymentsTimer ??= setTimeout(() => {
      this.deploymentsTimer = undefined;
      this.broadcast('deployments', { at: new Date().toISOString() });
    }, DEPLOYMENTS_FLUSH_MS);
  }

  broadcast<E extends LiveEventName>(event: E, data: LiveEventMap[E]): void {
    if (this.clients.size === 0) return;
    const chunk = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const client of this.clients) this.write(client, chunk);
  }

  private send<E extends LiveEventName>(client: Client, event: E, data: LiveEventMap[E]): void {
    this.write(client, `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** Bounded buffering: a client whose unsent bytes pass the limit is cut off rather than buffered without end. */
  private write(client: Client, chunk: string): void {
    const { res } = client;
    if (res.destroyed || res.writableEnded) return this.drop(client);
    if (res.writableLength + chunk.length > MAX_BUFFERED_BYTES) {
      res.destroy();
      return this.drop(client);
    }
    res.write(chunk);
  }

  private drop(client: Client): void {
    if (!this.clients.delete(client)) return;
    if (this.clients.size === 0) this.stopSources();
  }

  private startSources(): void {
    this.runDigests = new Map();
    this.keepaliveTimer = setInterval(() => {
      for (const client of this.clients) this.write(client, ': keepalive\n\n');
    }, KEEPALIVE_MS);
    this.runTimer = setInterval(() => void this.pollRuns(), this.options.runPollMs ?? RUN_POLL_MS);
    const abort = new AbortController();
    this.changeLoop = abort;
    void this.followChanges(abort.signal);
  }

  private stopSources(): void {
    clearInterval(this.keepaliveTimer);
    clearInterval(this.runTimer);
    clearTimeout(this.heartbeatTimer);
    clearTimeout(this.deploymentsTimer);
    this.keepaliveTimer = this.runTimer = this.heartbeatTimer = this.deploymentsTimer = undefined;
    this.pendingHeartbeats.clear();
    this.changeLoop?.abort();
    this.changeLoop = undefined;
  }

  private async followChanges(signal: AbortSignal): Promise<void> {
    const { changes } = this.options;
    let seen = changes.generation;
    while (!signal.aborted && !changes.closed) {
      await changes.next(60_000, signal);
      if (signal.aborted || changes.closed) return;
      if (changes.generation !== seen) {
        seen = changes.generation;
        this.broadcast('change', { generation: seen });
      }
    }
  }

  private polling = false;

  private async pollRuns(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const [running, queued] = await Promise.all([
        this.options.runs.list({ status: 'running', limit: 50 }),
        this.options.runs.list({ status: 'queued', limit: 50 }),
      ]);
      const active = new Map<string, RunView>([...running, ...queued].map((run) => [run.id, run]));
      // Runs that left the active set since the last look: send their final state once.
      for (const id of this.runDigests.keys()) {
        if (!active.has(id)) active.set(id, await this.options.runs.get(id));
      }
      const next = new Map<string, string>();
      for (const [id, run] of active) {
        const digest = JSON.stringify([run.status, run.steps.map((step) => step.status), run.progress]);
        if (run.status === 'queued' || run.status === 'running') next.set(id, digest);
        if (this.runDigests.get(id) !== digest) this.broadcast('run', { run });
      }
      this.runDigests = next;
    } catch {
      // The database is away for a moment: the next look tries again.
    } finally {
      this.polling = false;
    }
  }
}

const HEARTBEAT_ROUTE = '/api/v1/nodes/:id/heartbeat';
const MUTATING_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const DEPLOYMENT_STATUS_ROUTE = '/api/v1/nodes/:id/deployment-status';

/**
 * `GET /api/v1/events` (Server-Sent Events for the dashboard) and
 * `GET /api/v1/nodes/:id/resource-history`. Registered without encapsulation (full paths, no
 * prefix), because its onResponse hook watches heartbeats and deployment status reports on the
 * routes of other plugins.
 */
export function eventRoutes(
  services: Pick<Services, 'changes' | 'runs' | 'nodes'>,
  history: ResourceHistory = new ResourceHistory(),
): FastifyPluginAsyncTypebox {
  const live = new LiveEvents({ changes: services.changes, runs: services.runs });
  const nodes: NodeRegistry = services.nodes;
  const plugin: FastifyPluginAsyncTypebox = async (app) => {
    app.addHook('preClose', async () => live.close());

    app.addHook('onResponse', async (request, reply) => {
      if (reply.statusCode >= 400 || !MUTATING_METHODS.has(request.method)) return;
      const route = request.routeOptions.url;
      if (route === HEARTBEAT_ROUTE && request.method === 'POST') {
        const nodeId = request.principal?.nodeId ?? (request.params as { id: string }).id;
        const { resources, backlog } = request.body as HeartbeatRequest;
        // Measured while the node could not reach us: into the history at the time it was measured.
        for (const sample of backlog?.samples ?? []) history.record(nodeId, sample.resources, sample.at);
        history.record(nodeId, resources);
        live.heartbeat({
          nodeId,
          t: Date.now() / 1000,
          load1: resources.loadAverage[0] ?? 0,
          cpuCount: resources.cpuCount,
          memoryUsedBytes: Math.max(0, resources.memoryTotalBytes - resources.memoryFreeBytes),
          memoryTotalBytes: resources.memoryTotalBytes,
        });
      } else if (route === DEPLOYMENT_STATUS_ROUTE) {
        live.deploymentStatus();
      } else if (route && request.routeOptions.config.audit !== false) {
        // Telemetry (audit: false) is not a change; anything else that succeeded is.
        live.changedHere();
      }
    });

    app.get(
      '/api/v1/events',
      {
        config: { access: { minRole: 'viewer' } },
        schema: {
          summary:
            'Server-Sent Events for live views: hello, change, deployments, heartbeats, run (see src/contracts/live.ts); read with fetch and the Authorization header',
          tags: ['events'],
          produces: ['text/event-stream'],
          response: { 200: { type: 'string', description: 'text/event-stream' }, ...ERROR_RESPONSES },
        },
      },
      async (request, reply) => {
        reply.hijack();
        if (!live.subscribe(reply.raw)) {
          reply.raw.writeHead(503, { 'content-type': 'application/json', 'retry-after': '5' });
          reply.raw.end(
            JSON.stringify({ code: 'FOGLINE_ERR_SHUTTING_DOWN', message: 'Too many event streams, or shutting down: retry shortly' }),
          );
        }
        // Keep the socket open past Fastify's own timeouts; the stream ends when either side closes.
        request.raw.socket.setTimeout(0);
      },
    );

    app.get(
      '/api/v1/nodes/:id/resource-history',
      {
        config: { access: { minRole: 'viewer' } },
        schema: {
          summary: "A node's CPU load and memory from its heartbeats over the last hour (kept in memory; empty after a restart)",
          tags: ['nodes'],
          params: IdParams,
          response: { 200: ResourceHistoryView, ...ERROR_RESPONSES },
        },
      },
      async (request) => {
        const node = await nodes.get(request.params.id);
        return {
          nodeId: node.id,
          minSpacingSeconds: history.minSpacingSeconds,
          windowSeconds: history.windowSeconds,
          samples: history.samples(node.id),
        };
      },
    );
  };
  // Hooks apply to the whole app, as with fastify-plugin.
  (plugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
  return plugin;
}
