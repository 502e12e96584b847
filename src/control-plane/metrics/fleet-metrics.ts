import { Gauge, type Registry } from 'prom-client';
import { NODE_DEPLOYMENT_STATES } from '../../contracts/deployments.js';
import type { NodeView } from '../../contracts/nodes.js';
import type { DeploymentRepository } from '../../deployments/deployment-repository.js';
import { ResourceGauges } from '../../metrics/resource-gauges.js';
import type { NodeRegistry } from '../../nodes/node-registry.js';
import type { RunRepository } from '../../pipelines/run-repository.js';

/** Where the fleet is read from at each scrape: the domains' own repositories. */
export interface FleetSources {
  nodes: NodeRegistry;
  deployments: DeploymentRepository;
  runs: RunRepository;
}

/**
 * The cluster as the control plane's database knows it, read at scrape time: nodes (status,
 * heartbeat age, the resources their last heartbeat reported), deployments per node state, runs
 * waiting or running. Per-node series are labelled by node name: bounded by the fleet's size.
 */
export class FleetMetrics {
  private readonly nodesByStatus: Gauge<'status' | 'role'>;
  private readonly cordoned: Gauge;
  private readonly nodeUp: Gauge<'node'>;
  private readonly heartbeatAge: Gauge<'node'>;
  private readonly nodeInfo: Gauge<'node' | 'node_id' | 'role' | 'agent_version' | 'arch'>;
  private readonly resources: ResourceGauges<'node'>;
  private readonly deployments: Gauge;
  private readonly deploymentNodes: Gauge<'deployment' | 'state'>;
  private readonly deploymentVersionNodes: Gauge<'deployment' | 'version'>;
  private readonly runsUnfinished: Gauge<'pipeline' | 'status'>;

  constructor(
    registry: Registry,
    private readonly sources: FleetSources,
  ) {
    const registers = [registry];
    this.nodesByStatus = new Gauge({
      name: 'fogline_nodes',
      help: 'Enrolled nodes by status (online while the last heartbeat is younger than the node timeout) and role',
      labelNames: ['status', 'role'],
      registers,
    });
    this.cordoned = new Gauge({ name: 'fogline_nodes_cordoned', help: 'Cordoned nodes (they get no new deployments)', registers });
    this.nodeUp = new Gauge({
      name: 'fogline_node_online',
      help: '1 while the node heartbeats within the node timeout, else 0',
      labelNames: ['node'],
      registers,
    });
    this.heartbeatAge = new Gauge({
      name: 'fogline_node_heartbeat_age_seconds',
      help: "Seconds since the node's last heartbeat (absent for a node that never sent one)",
      labelNames: ['node'],
      registers,
    });
    this.nodeInfo = new Gauge({
      name: 'fogline_node_info',
      help: 'Always 1: each node with its id, role and what its agent reported (version, architecture)',
      labelNames: ['node', 'node_id', 'role', 'agent_version', 'arch'],
      registers,
    });
    this.resources = new ResourceGauges(registry, 'fogline_node', ['node'], "as the node's last heartbeat reported");
    this.deployments = new Gauge({ name: 'fogline_deployments', help: 'Deployments defined', registers });
    this.deploymentNodes = new Gauge({
      name: 'fogline_deployment_nodes',
      help: 'Nodes per deployment by the state they last reported (pending, downloading, loading, serving, failed)',
      labelNames: ['deployment', 'state'],
      registers,
    });
    this.deploymentVersionNodes = new Gauge({
      name: 'fogline_deployment_serving_version_nodes',
      help: 'Nodes per deployment by the model version they serve now (rollout progress)',
      labelNames: ['deployment', 'version'],
      registers,
    });
    this.runsUnfinished = new Gauge({
      name: 'fogline_pipeline_runs',
      help: 'Pipeline runs waiting (queued) or running now',
      labelNames: ['pipeline', 'status'],
      registers,
    });
  }

  /** Reads the repositories and replaces every series above with what they say now. */
  async refresh(): Promise<void> {
    const [nodes, deployments, states, runs] = await Promise.all([
      this.sources.nodes.list(),
      this.sources.deployments.list(),
      // Nodes that still exist: a deleted node's last report counts nowhere.
      this.sources.deployments.stateCounts(),
      this.sources.runs.unfinishedCounts(),
    ]);
    // Everything below is synchronous: a scrape never sees half of the update.
    this.setNodes(nodes);
    this.deployments.set(deployments.length);
    this.deploymentNodes.reset();
    this.deploymentVersionNodes.reset();
    for (const { name } of deployments) {
      for (const state of NODE_DEPLOYMENT_STATES) this.deploymentNodes.set({ deployment: name, state }, 0);
    }
    const known = new Set(deployments.map((d) => d.name));
    for (const row of states) {
      if (!known.has(row.deployment)) continue;
      this.deploymentNodes.inc({ deployment: row.deployment, state: row.state }, row.nodes);
      if (row.servingVersion !== null) {
        this.deploymentVersionNodes.inc({ deployment: row.deployment, version: String(row.servingVersion) }, row.nodes);
      }
    }
    this.runsUnfinished.reset();
    for (const row of runs) this.runsUnfinished.set({ pipeline: row.pipeline, status: row.status }, row.runs);
  }

  private setNodes(nodes: NodeView[]): void {
    this.nodesByStatus.reset();
    for (const status of ['online', 'offline']) {
      for (const role of ['edge', 'cloud']) this.nodesByStatus.set({ status, role }, 0);
    }
    for (const gauge of [this.nodeUp, this.heartbeatAge, this.nodeInfo]) gauge.reset();
    this.resources.reset();
    let cordoned = 0;
    for (const node of nodes) {
      const labels = { node: node.name };
      this.nodesByStatus.inc({ status: node.status, role: node.role });
      if (node.cordoned) cordoned += 1;
      this.nodeUp.set(labels, node.status === 'online' ? 1 : 0);
      if (node.heartbeatAgeSeconds !== null) this.heartbeatAge.set(labels, node.heartbeatAgeSeconds);
      this.nodeInfo.set(
        { node: node.name, node_id: node.id, role: node.role, agent_version: node.agent?.version ?? '', arch: node.agent?.arch ?? '' },
        1,
      );
      if (node.resources) this.resources.set(labels, node.resources);
    }
    this.cordoned.set(cordoned);
  }
}
