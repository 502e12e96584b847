import diagnosticsChannel from 'node:diagnostics_channel';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { NodeResources } from '../../contracts/nodes.js';
import { DOWNLOAD_SECONDS } from '../../metrics/buckets.js';
import { HttpMetrics } from '../../metrics/http-metrics.js';
import { collectProcessMetrics } from '../../metrics/process-metrics.js';
import { ScrapeQueue } from '../../metrics/metrics-endpoint.js';
import { ResourceGauges } from '../../metrics/resource-gauges.js';
import { ARTIFACT_DOWNLOAD_CHANNEL, type ArtifactDownloadEvent } from '../artifacts/download-artifact.js';
import type { BreakerState } from '../offload/circuit-breaker.js';
import type { JointEvent, OffloadEstimates, OffloadEvent, OffloadObserver } from '../offload/offloading-models.js';
import { ServingMetrics, type ServingMetricsOptions } from './serving-metrics.js';

export interface AgentMetricsOptions extends ServingMetricsOptions {
  /** The agent's data dir: artifact downloads under it are this agent's. */
  dataDir: string;
  /** Process metrics (CPU, memory, event loop, GC); on by default. */
  processMetrics?: boolean;
}

export interface AgentNode {
  nodeId: string;
  nodeName: string;
  role: string;
  version: string;
}

/**
 * One agent's metrics, in a registry of its own (not prom-client's global one, so that several
 * agents can run in one process): HTTP, serving (the ServingObserver given to DeployedModels),
 * artifact downloads, the node's resources read at scrape time, and the process.
 *
 * @example
 * const metrics = new AgentMetrics({ dataDir });
 * metrics.install(http);                       // before the routes: GET /metrics + HTTP metrics
 * const models = new DeployedModels({ observer: metrics.serving });
 * metrics.setNode(node, () => readResources(dataDir, gpus));
 */
export class AgentMetrics {
  readonly registry = new Registry();
  readonly http: HttpMetrics;
  readonly serving: ServingMetrics;
  private readonly resources: ResourceGauges<never>;
  private readonly info: Gauge<'node_name' | 'node_id' | 'role' | 'version'>;
  private readonly downloadBytes: Counter<'model'>;
  private readonly downloads: Counter<'model' | 'outcome'>;
  private readonly downloadSeconds: Histogram<'outcome'>;
  private readonly artifactsDir: string;
  private readonly scrapes: ScrapeQueue;
  private readResources: (() => Promise<NodeResources>) | null = null;
  private readonly onDownload = (message: unknown) => this.downloaded(message as ArtifactDownloadEvent);
  private readonly offloadRequests: Counter<'deployment' | 'outcome' | 'reason'>;
  private offloadBreaker: (() => BreakerState) | null = null;
  private offloadEstimates: () => readonly OffloadEstimates[] = () => [];
  private readonly jointSamples: Counter<'deployment' | 'outcome'>;
  private readonly jointLabelled: Counter<'deployment'>;
  private readonly jointCorrect: Counter<'deployment' | 'answer'>;
  /** The OffloadObserver given to OffloadingModels: requests by where they ran and why, and joint inference's rows. */
  readonly offload: OffloadObserver = {
    routed: (event: OffloadEvent) => this.routed(event),
    joint: (event: JointEvent) => this.jointAnswered(event),
  };

  constructor(options: AgentMetricsOptions) {
    const registers = [this.registry];
    if (options.processMetrics !== false) collectProcessMetrics(this.registry);
    this.http = new HttpMetrics(this.registry);
    this.serving = new ServingMetrics(this.registry, options);
    this.resources = new ResourceGauges(this.registry, 'fogline_agent', [], 'this node, read by its agent at scrape time');
    this.info = new Gauge({
      name: 'fogline_agent_info',
      help: 'Always 1: the node this agent is (name, id, role) and the agent version',
      labelNames: ['node_name', 'node_id', 'role', 'version'],
      registers,
    });
    this.downloadBytes = new Counter({
      name: 'fogline_artifact_download_bytes_total',
      help: 'Model artifact bytes downloaded from the control plane',
      labelNames: ['model'],
      registers,
    });
    this.downloads = new Counter({
      name: 'fogline_artifact_downloads_total',
      help: 'Model artifact downloads (one per try; a resumed download counts again), by outcome',
      labelNames: ['model', 'outcome'],
      registers,
    });
    this.downloadSeconds = new Histogram({
      name: 'fogline_artifact_download_duration_seconds',
      help: 'Time one artifact download try took',
      labelNames: ['outcome'],
      buckets: DOWNLOAD_SECONDS,
      registers,
    });
    this.offloadRequests = new Counter({
      name: 'fogline_offload_requests_total',
      help: 'Inference requests by where they ran: local (on this node as decided), offloaded (the cloud answered), fallback (meant for the cloud, answered here because the cloud failed or was held off) or shed (auto under overload: answered 429 at once), with the reason of the decision',
      labelNames: ['deployment', 'outcome', 'reason'],
      registers,
    });
    this.jointSamples = new Counter({
      name: 'fogline_joint_samples_total',
      help: 'Joint inference: rows (samples) by outcome: easy (the edge model answered), hard (the hard-example rule sent it to the cloud model, which answered) or fallback (hard, but the cloud failed or was held off: the edge model answered)',
      labelNames: ['deployment', 'outcome'],
      registers,
    });
    this.jointLabelled = new Counter({
      name: 'fogline_joint_labelled_samples_total',
      help: 'Joint inference: rows that came with a true label (request parameter fogline.label)',
      labelNames: ['deployment'],
      registers,
    });
    this.jointCorrect = new Counter({
      name: 'fogline_joint_correct_samples_total',
      help: "Joint inference: labelled rows answered right, by answer: edge (the edge model's own answer) or final (the answer returned, edge or cloud); (final - edge) / labelled is the accuracy gained",
      labelNames: ['deployment', 'answer'],
      registers,
    });
    const breaker = () => this.offloadBreaker?.();
    new Gauge({
      name: 'fogline_offload_circuit_open',
      help: '1 while the circuit breaker keeps offloaded requests away from a failing cloud (0.5: half-open, one trial request may go); 0 when it is closed',
      registers,
      collect() {
        const state = breaker();
        this.set(state === 'open' ? 1 : state === 'half-open' ? 0.5 : 0);
      },
    });
    this.estimateGauges(registers);
    this.artifactsDir = path.resolve(options.dataDir, 'artifacts') + path.sep;
    diagnosticsChannel.subscribe(ARTIFACT_DOWNLOAD_CHANNEL, this.onDownload);
    this.scrapes = new ScrapeQueue(this.registry, () => this.refresh());
  }

  /**
   * Adds the HTTP metrics hook and `GET /metrics` (open to any caller, as the agent's /v2 routes are);
   * closing the app closes the metrics.
   */
  install(app: FastifyInstance): void {
    this.http.install(app);
    app.get('/metrics', async (_request, reply) => this.scrapes.send(reply));
    app.addHook('onClose', async () => this.close());
  }

  /** Once enrolled: the node's identity (fogline_agent_info) and how to read its resources. */
  setNode(node: AgentNode, readResources: () => Promise<NodeResources>): void {
    this.info.reset();
    this.info.set({ node_name: node.nodeName, node_id: node.nodeId, role: node.role, version: node.version }, 1);
    this.readResources = readResources;
  }

  /** How to read the offload circuit breaker's state and what `auto` weighs, at scrape time. */
  watchOffload(state: () => BreakerState, estimates: () => readonly OffloadEstimates[] = () => []): void {
    this.offloadBreaker = state;
    this.offloadEstimates = estimates;
  }

  /** What `auto` weighs per deployment (docs/agent.md says how to read them against its decisions). */
  private estimateGauges(registers: Registry[]): void {
    const estimates = () => this.offloadEstimates();
    const gauge = (name: string, help: string, read: (estimate: OffloadEstimates) => number | undefined) =>
      new Gauge({
        name,
        help,
        labelNames: ['deployment'],
        registers,
        collect() {
          this.reset();
          for (const estimate of estimates()) {
            const value = read(estimate);
            if (value !== undefined && Number.isFinite(value)) this.set({ deployment: estimate.deployment }, value);
          }
        },
      });
    gauge(
      'fogline_offload_edge_expected_ms',
      'auto: expected completion on this node for a request arriving now (queue × time per batch), ms',
      (e) => e.edgeExpectedMs,
    );
    gauge(
      'fogline_offload_arrival_rate',
      'auto: requests per second arriving at this node (all offloading deployments), recent',
      (e) => e.edge.arrivalRate,
    );
    gauge(
      'fogline_offload_local_budget_rate',
      "auto: requests per second this node's model may take now without saturating the agent's event loop beside what it forwards",
      (e) => e.edge.localRate,
    );
    gauge(
      'fogline_offload_forward_cost_ms',
      'auto: event-loop ms one forwarded request costs this node (learned)',
      (e) => e.edge.forwardCostMs,
    );
    gauge(
      'fogline_offload_cloud_expected_ms',
      'auto: expected completion in the cloud (round trip + its reported queue), ms',
      (e) => e.cloud.expectedMs,
    );
    gauge('fogline_offload_cloud_in_flight', 'auto: requests sent to the cloud and not answered yet', (e) => e.cloud.inFlight);
    gauge(
      'fogline_offload_cloud_limit',
      'auto: how many requests may be outstanding in the cloud (grows while answers are in time, shrinks when late)',
      (e) => e.cloud.limit,
    );
  }

  /** The Prometheus text of everything above, resources read now. */
  render(): Promise<string> {
    return this.scrapes.render();
  }

  close(): void {
    diagnosticsChannel.unsubscribe(ARTIFACT_DOWNLOAD_CHANNEL, this.onDownload);
    this.serving.close();
  }

  private async refresh(): Promise<void> {
    if (!this.readResources) return;
    try {
      this.resources.set({}, await this.readResources());
    } catch {
      // A failed reading (data dir gone) leaves the last values; the scrape still answers.
    }
  }

  private routed(event: OffloadEvent): void {
    this.offloadRequests.inc({ deployment: event.deployment, outcome: event.outcome, reason: event.reason });
  }

  private jointAnswered(event: JointEvent): void {
    const { deployment } = event;
    for (const outcome of ['easy', 'hard', 'fallback'] as const) this.jointSamples.inc({ deployment, outcome }, event[outcome]);
    this.jointLabelled.inc({ deployment }, event.labelled);
    this.jointCorrect.inc({ deployment, answer: 'edge' }, event.edgeCorrect);
    this.jointCorrect.inc({ deployment, answer: 'final' }, event.finalCorrect);
  }

  private downloaded(event: ArtifactDownloadEvent): void {
    if (!path.resolve(event.file).startsWith(this.artifactsDir)) return;
    const outcome = event.ok ? 'success' : 'failure';
    this.downloadBytes.inc({ model: event.model }, event.bytes);
    this.downloads.inc({ model: event.model, outcome });
    this.downloadSeconds.observe({ outcome }, event.seconds);
  }
}
