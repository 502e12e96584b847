import { createHash } from 'node:crypto';
import type { DeploymentView, DesiredDeployment, DesiredState } from '../contracts/deployments.js';
import type { ModelVersionView } from '../contracts/models.js';
import { FoglineError } from '../errors/fogline-error.js';
import type { NodeView } from '../contracts/nodes.js';
import type { NodeRegistry } from '../nodes/node-registry.js';
import type { ModelRegistry } from '../registry/model-registry.js';
import type { ChangeSignal } from './change-signal.js';
import type { DeploymentRecord, DeploymentRepository, NodeStatusRecord } from './deployment-repository.js';
import type { OnDemandPlacements } from './on-demand-placements.js';
import { planPlacement } from './placement.js';
import { assignedVersion } from './rollout.js';
import { parseModelSelector } from '../registry/model-selector.js';
import { desiredJoint, jointNodeView, jointView, resolveJointCloud } from './joint-setting.js';
import { type EdgeAccess, type EdgeGrant, edgeTokensFor } from './edge-tokens.js';

/** How often a waiting long poll re-checks without a signal (node status changes, other replicas). */
const RECHECK_MS = 2000;
/** Every node's long poll reads the same snapshot of deployments and nodes for this long, unless a change is signalled. */
const SNAPSHOT_MS = 1000;

interface Snapshot {
  deployments: {
    deployment: DeploymentRecord;
    /** What the selector resolves to now; undefined when it resolves to nothing. */
    resolved: ModelVersionView | undefined;
    /** The versions the rollout hands out (stable and target), by number. */
    versions: Map<number, ModelVersionView>;
    /** The version the joint cloud model resolves to now; undefined without joint inference. */
    joint: ModelVersionView | undefined;
  }[];
  nodes: NodeView[];
  /** Nodes each deployment was loaded on on demand (sessions), by deployment name. */
  onDemand: Map<string, string[]>;
  /** Inference tokens agents may accept, and the deployments that upload samples (undefined without EdgeAccess). */
  edge?: { grants: EdgeGrant[]; sampleUploads: ReadonlySet<string> };
}

interface Placement {
  deployment: DeploymentRecord;
  resolved: ModelVersionView | undefined;
  versions: Map<number, ModelVersionView>;
  joint: ModelVersionView | undefined;
  nodeIds: string[];
  /** Nodes the selector chose that cannot take the model, and why. */
  refused: { nodeId: string; reason: string }[];
}

/**
 * Works out what every node should serve, from the deployments (model selector + node
 * selector), their rollouts (which version each placed node gets now) and which nodes fit.
 * Placement is recomputed, never stored, so it is never stale; the rollout's progress is
 * stored with the deployment (see RolloutController).
 */
export class DesiredStateService {
  private snapshot: Promise<Snapshot> | undefined;
  private snapshotMeta = { at: 0, generation: -1 };
  private readonly nodesById = new WeakMap<Snapshot, ReadonlyMap<string, NodeView>>();

  constructor(
    private readonly deployments: DeploymentRepository,
    private readonly models: ModelRegistry,
    private readonly nodes: NodeRegistry,
    private readonly changes: ChangeSignal,
    /** Where deployments were loaded on demand for sessions; placed like the selector's nodes. */
    private readonly onDemand?: OnDemandPlacements,
    /** What agents need to guard their /v2 and /metrics (src/agent/edge-auth). */
    private readonly edge?: EdgeAccess,
  ) {}

  /** What `nodeId` should serve now. The asking node is alive by definition, whatever its last heartbeat says. */
  async forNode(nodeId: string): Promise<DesiredState> {
    const deployments: DesiredDeployment[] = [];
    const snapshot = await this.currentSnapshot();
    const { edge } = snapshot;
    for (const { entry, version } of this.given(snapshot, nodeId)) {
      const { deployment, joint } = entry;
      const jointEntry = desiredJoint(deployment.joint, joint);
      deployments.push({
        name: deployment.name,
        model: version.model,
        version: version.version,
        kind: version.kind,
        sha256: version.artifact.sha256,
        signature: version.artifact.signature,
        sizeBytes: version.artifact.sizeBytes,
        downloadPath: `/api/v1/nodes/${nodeId}/artifacts/${version.model}/${version.version}`,
        ioSignature: version.ioSignature,
        offload: {
          policy: deployment.offload,
          latencyTargetMs: deployment.latencyTargetMs,
          // The control plane's V2 endpoint serves every registered version: the same one as the node's.
          inferPath: `/v2/models/${encodeURIComponent(version.model)}/versions/${version.version}/infer`,
        },
        ...(jointEntry ? { joint: jointEntry } : {}),
        ...(deployment.mqtt ? { mqtt: deployment.mqtt } : {}),
        ...(edge?.sampleUploads.has(deployment.name) ? { sampleUpload: true } : {}),
      });
    }
    const role = this.nodeIndex(snapshot).get(nodeId)?.role ?? 'edge';
    const served = deployments.map((d) => d.name);
    const edgeTokens = edge ? edgeTokensFor(edge.grants, { role }, served) : undefined;
    // Without EdgeAccess the revision is what it always was: agents of an older control plane see no change.
    const hashed = edgeTokens ? { deployments, edgeTokens } : deployments;
    const revision = createHash('sha256').update(JSON.stringify(hashed)).digest('hex').slice(0, 16);
    return { revision, deployments, ...(edgeTokens ? { edgeTokens } : {}) };
  }

  /** Long poll: the desired state as soon as its revision differs from `revision`, or after `waitMs` as it is. */
  async waitForChange(nodeId: string, revision: string | undefined, waitMs: number, signal?: AbortSignal): Promise<DesiredState> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const generation = this.changes.generation;
      const state = await this.forNode(nodeId);
      const left = deadline - Date.now();
      if (state.revision !== revision || left <= 0 || signal?.aborted || this.changes.closed) return state;
      // A change that came while this state was worked out would not wake the wait below: look again.
      if (this.changes.generation !== generation) continue;
      await this.changes.next(Math.min(left, RECHECK_MS), signal);
    }
  }

  /** Throws unless `model@version` is part of what `nodeId` should serve. */
  async assertAssigned(nodeId: string, model: string, version: number): Promise<DesiredDeployment> {
    const assigned = (await this.forNode(nodeId)).deployments.find((d) => d.model === model && d.version === version);
    if (!assigned) {
      throw new FoglineError('FOGLINE_ERR_ARTIFACT_NOT_ASSIGNED', `Node ${nodeId} is not assigned ${model} version ${version}`);
    }
    return assigned;
  }

  /**
   * The deployments `nodeId` is given now, by name, with the version each hands it: what forNode()
   * lists, worked out for this node alone from the shared snapshot (no placement of the whole
   * fleet), so that every write a node makes can be checked against it on the hot path (issue 14).
   */
  async assignedTo(nodeId: string): Promise<Map<string, number>> {
    const given = this.given(await this.currentSnapshot(), nodeId);
    return new Map(given.map(({ entry, version }) => [entry.deployment.name, version.version]));
  }

  /**
   * The deployments placed on `nodeId` with the version each hands it, placed for this node alone
   * (placement is a filter over nodes: one node's answer does not depend on the others). The
   * asking node is alive by definition, whatever its last heartbeat says.
   */
  private given(snapshot: Snapshot, nodeId: string): { entry: Snapshot['deployments'][number]; version: ModelVersionView }[] {
    const node = this.nodeIndex(snapshot).get(nodeId);
    if (!node) return [];
    const alive = [{ ...node, status: 'online' as const }];
    const given: { entry: Snapshot['deployments'][number]; version: ModelVersionView }[] = [];
    for (const entry of snapshot.deployments) {
      if (placeOne(entry, alive, snapshot.onDemand).nodeIds.length === 0) continue;
      const assigned = assignedVersion(entry.deployment.rollout, nodeId);
      const version = assigned === null ? undefined : entry.versions.get(assigned);
      if (version) given.push({ entry, version });
    }
    return given;
  }

  /** The snapshot's nodes by id, built once per snapshot: status reports come from every node all the time. */
  private nodeIndex(snapshot: Snapshot): ReadonlyMap<string, NodeView> {
    let index = this.nodesById.get(snapshot);
    if (!index) {
      index = new Map(snapshot.nodes.map((n) => [n.id, n]));
      this.nodesById.set(snapshot, index);
    }
    return index;
  }

  /**
   * Which of `names` a node may write about: those given to it now. Throws
   * FOGLINE_ERR_NODE_NOT_ASSIGNED (nothing may be written then) when one is a deployment that is
   * not given to it; names of no deployment (one deleted as the node reported) are left out quietly.
   */
  async writableBy(nodeId: string, names: readonly string[], what: string): Promise<Set<string>> {
    if (names.length === 0) return new Set();
    const [assigned, { deployments }] = await Promise.all([this.assignedTo(nodeId), this.currentSnapshot()]);
    const known = new Set(deployments.map((entry) => entry.deployment.name));
    const unique = [...new Set(names)];
    const refused = unique.filter((name) => known.has(name) && !assigned.has(name));
    if (refused.length > 0) {
      const listed = refused.map((name) => `"${name}"`).join(', ');
      throw new FoglineError(
        'FOGLINE_ERR_NODE_NOT_ASSIGNED',
        `This node is not assigned ${refused.length === 1 ? 'deployment' : 'deployments'} ${listed}: its ${what} was refused and nothing was written`,
        { deployments: refused },
      );
    }
    return new Set(unique.filter((name) => assigned.has(name)));
  }

  /** What the rollout controller needs for each deployment: the selector's version now and where it is placed. */
  async rolloutInputs(): Promise<{ deployment: DeploymentRecord; resolvedVersion: number | null; placedNodes: string[] }[]> {
    return (await this.placements()).map(({ deployment, resolved, nodeIds }) => ({
      deployment,
      resolvedVersion: resolved?.version ?? null,
      placedNodes: nodeIds,
    }));
  }

  /** A deployment as users see it: its resolved version, its rollout and each placed node's reported state. */
  async view(deployment: DeploymentRecord, nodes?: readonly NodeView[]): Promise<DeploymentView> {
    return (await this.views([deployment], nodes))[0]!;
  }

  /**
   * Several deployments as users see them, reading the nodes and the node reports once for all
   * (fresh, not from the shared snapshot: a user who just changed something sees it). A caller
   * that has just listed the nodes passes them in.
   */
  async views(records: readonly DeploymentRecord[], listed?: readonly NodeView[]): Promise<DeploymentView[]> {
    if (records.length === 0) return [];
    const nodes = listed ?? (await this.nodes.list());
    const onDemand = (await this.onDemand?.byDeployment()) ?? new Map<string, string[]>();
    const nodeNames = new Map(nodes.map((node) => [node.id, node.name]));
    const statusesByName =
      records.length === 1
        ? new Map([[records[0]!.name, await this.deployments.statuses(records[0]!.name)]])
        : await this.deployments.allStatuses();
    return Promise.all(
      records.map(async (record) =>
        this.toView(
          record,
          placeOne(await this.resolveVersions(record), nodes, onDemand),
          nodeNames,
          statusesByName.get(record.name) ?? [],
        ),
      ),
    );
  }

  private toView(
    deployment: DeploymentRecord,
    placed: Placement,
    nodeNames: ReadonlyMap<string, string>,
    statusList: readonly NodeStatusRecord[],
  ): DeploymentView {
    const { rollout } = deployment;
    const statuses = new Map(statusList.map((status) => [status.nodeId, status]));
    const placedIds = new Set(placed.nodeIds);
    const refusals = new Map(placed.refused.map(({ nodeId, reason }) => [nodeId, reason]));
    const nodeIds = new Set([...placed.nodeIds, ...statuses.keys(), ...refusals.keys()]);
    return {
      name: deployment.name,
      model: deployment.modelSelector,
      nodeSelector: deployment.nodeSelector,
      strategy: deployment.strategy,
      canaryPercent: deployment.canaryPercent,
      soakSeconds: Math.round(deployment.soakMs / 1000),
      maxErrorRate: deployment.maxErrorRate,
      offload: deployment.offload,
      latencyTargetMs: deployment.latencyTargetMs,
      joint: jointView(deployment.joint, placed.joint),
      mqtt: deployment.mqtt,
      version: placed.resolved?.version ?? null,
      rollout: {
        phase: rollout.phase,
        stableVersion: rollout.stableVersion,
        targetVersion: rollout.targetVersion,
        updatedNodes: rollout.updatedNodes,
        phaseSince: new Date(rollout.phaseSince).toISOString(),
        blockedVersions: rollout.blockedVersions,
        goodVersions: rollout.goodVersions,
        preferredCanary: rollout.preferredCanary ?? null,
        history: rollout.history.map((event) => ({ ...event, at: new Date(event.at).toISOString() })),
      },
      nodes: [...nodeIds].map((nodeId) => {
        const status = statuses.get(nodeId);
        return {
          nodeId,
          nodeName: nodeNames.get(nodeId) ?? nodeId,
          version: status?.version ?? null,
          servingVersion: status?.servingVersion ?? null,
          assignedVersion: placedIds.has(nodeId) ? assignedVersion(rollout, nodeId) : null,
          state: status?.state ?? (refusals.has(nodeId) ? 'refused' : 'pending'),
          reason: status?.reason ?? refusals.get(nodeId) ?? null,
          requests: status?.requests ?? 0,
          errors: status?.errors ?? 0,
          latencyP50Ms: status?.latencyP50Ms ?? null,
          latencyP99Ms: status?.latencyP99Ms ?? null,
          localRequests: status?.localRequests ?? 0,
          offloadedRequests: status?.offloadedRequests ?? 0,
          joint: jointNodeView(status?.joint ?? null),
          mqtt: status?.mqtt ?? null,
          updatedAt: status ? new Date(status.updatedAt).toISOString() : null,
        };
      }),
      createdAt: new Date(deployment.createdAt).toISOString(),
      updatedAt: new Date(deployment.updatedAt).toISOString(),
    };
  }

  private async placements(): Promise<Placement[]> {
    const { deployments, nodes, onDemand } = await this.currentSnapshot();
    return deployments.map((entry) => placeOne(entry, nodes, onDemand));
  }

  private currentSnapshot(): Promise<Snapshot> {
    const now = Date.now();
    if (this.snapshot && this.snapshotMeta.generation === this.changes.generation && now - this.snapshotMeta.at < SNAPSHOT_MS)
      return this.snapshot;
    const generation = this.changes.generation;
    this.snapshotMeta = { at: now, generation };
    const snapshot = (async (): Promise<Snapshot> => {
      const deployments = await this.deployments.list();
      const [resolved, edge] = await Promise.all([
        Promise.all(deployments.map((deployment) => this.resolveVersions(deployment))),
        this.loadEdge(),
      ]);
      if (deployments.length === 0) return { deployments: resolved, nodes: [], onDemand: new Map(), edge };
      const [nodes, onDemand] = await Promise.all([this.nodes.list(), this.onDemand?.byDeployment() ?? new Map<string, string[]>()]);
      return { deployments: resolved, nodes, onDemand, edge };
    })();
    this.snapshot = snapshot;
    snapshot.catch(() => {
      if (this.snapshot === snapshot) this.snapshot = undefined;
    });
    return snapshot;
  }

  private async loadEdge(): Promise<Snapshot['edge']> {
    if (!this.edge) return undefined;
    const [grants, sampleUploads] = await Promise.all([this.edge.grants(), this.edge.sampleUploads()]);
    return { grants, sampleUploads };
  }

  private async resolveVersions(deployment: DeploymentRecord): Promise<Snapshot['deployments'][number]> {
    // A selector that resolves to nothing (model deleted, alias removed) starts no rollout.
    const resolved = await this.models.resolve(deployment.modelSelector).catch(() => undefined);
    const { model } = parseModelSelector(deployment.modelSelector);
    const versions = new Map<number, ModelVersionView>();
    const { stableVersion, targetVersion } = deployment.rollout;
    for (const number of new Set([stableVersion, targetVersion])) {
      if (number === null) continue;
      const view = number === resolved?.version ? resolved : await this.models.getVersion(model, number).catch(() => undefined);
      if (view) versions.set(number, view);
    }
    return { deployment, resolved, versions, joint: await resolveJointCloud(deployment.joint, this.models) };
  }
}

function placeOne(entry: Snapshot['deployments'][number], nodes: readonly NodeView[], onDemand: ReadonlyMap<string, string[]>): Placement {
  const { deployment, resolved, versions } = entry;
  const involved = [...versions.values(), ...(resolved ? [resolved] : [])];
  if (involved.length === 0) return { deployment, resolved, versions, joint: entry.joint, nodeIds: [], refused: [] };
  const needs = {
    bundleBytes: Math.max(...involved.map((v) => v.artifact.sizeBytes)),
    needsOnnx: involved.some((v) => v.framework === 'onnx'),
  };
  const { placed, refused } = planPlacement(deployment.nodeSelector, needs, nodes, onDemand.get(deployment.name));
  return {
    deployment,
    resolved,
    versions,
    joint: entry.joint,
    nodeIds: placed.map((n) => n.id),
    refused: refused.map(({ node, reason }) => ({ nodeId: node.id, reason })),
  };
}
