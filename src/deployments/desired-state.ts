import { createHash } from 'node:crypto';
import type { DeploymentView, DesiredDeployment, DesiredState } from '../contracts/deployments.js';
import type { ModelVersionView } from '../contracts/models.js';
import { FoglineError } from '../errors/fogline-error.js';
import type { NodeView } from '../contracts/nodes.js';
import type { NodeRegistry } from '../nodes/node-registry.js';
import type { ModelRegistry } from '../registry/model-registry.js';
import type { ChangeSignal } from './change-signal.js';
import type { DeploymentRecord, DeploymentRepository } from './deployment-repository.js';
import { placeDeployment } from './placement.js';

/** How often a waiting long poll re-checks without a signal (node status changes, other replicas). */
const RECHECK_MS = 2000;
/** Every node's long poll reads the same snapshot of deployments and nodes for this long, unless a change is signalled. */
const SNAPSHOT_MS = 1000;

interface Snapshot {
  deployments: { deployment: DeploymentRecord; version: ModelVersionView | undefined }[];
  nodes: NodeView[];
}

/**
 * Works out what every node should serve, from the deployments (model selector + node
 * selector), what the selectors resolve to now (moving an alias rolls deployments forward) and
 * which nodes fit. Nothing of it is stored: it is recomputed, so it is never stale.
 */
export class DesiredStateService {
  private snapshot: Promise<Snapshot> | undefined;
  private snapshotMeta = { at: 0, generation: -1 };

  constructor(
    private readonly deployments: DeploymentRepository,
    private readonly models: ModelRegistry,
    private readonly nodes: NodeRegistry,
    private readonly changes: ChangeSignal,
  ) {}

  /** What `nodeId` should serve now. The asking node is alive by definition, whatever its last heartbeat says. */
  async forNode(nodeId: string): Promise<DesiredState> {
    const placed = await this.placements(nodeId);
    const deployments: DesiredDeployment[] = placed
      .filter((p) => p.nodeIds.includes(nodeId))
      .map(({ deployment, version }) => ({
        name: deployment.name,
        model: version.model,
        version: version.version,
        kind: version.kind,
        sha256: version.artifact.sha256,
        signature: version.artifact.signature,
        sizeBytes: version.artifact.sizeBytes,
        downloadPath: `/api/v1/nodes/${nodeId}/artifacts/${version.model}/${version.version}`,
        ioSignature: version.ioSignature,
      }));
    const revision = createHash('sha256').update(JSON.stringify(deployments)).digest('hex').slice(0, 16);
    return { revision, deployments };
  }

  /** Long poll: the desired state as soon as its revision differs from `revision`, or after `waitMs` as it is. */
  async waitForChange(nodeId: string, revision: string | undefined, waitMs: number, signal?: AbortSignal): Promise<DesiredState> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const state = await this.forNode(nodeId);
      const left = deadline - Date.now();
      if (state.revision !== revision || left <= 0 || signal?.aborted || this.changes.closed) return state;
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

  /** A deployment as users see it: its resolved version and each placed node's reported state. */
  async view(deployment: DeploymentRecord): Promise<DeploymentView> {
    const placed = (await this.placements()).find((p) => p.deployment.name === deployment.name);
    const statuses = await this.deployments.statuses(deployment.name);
    const nodes = await this.nodes.list();
    const nodeIds = new Set([...(placed?.nodeIds ?? []), ...statuses.map((s) => s.nodeId)]);
    return {
      name: deployment.name,
      model: deployment.modelSelector,
      nodeSelector: deployment.nodeSelector,
      strategy: deployment.strategy,
      version: placed?.version.version ?? null,
      nodes: [...nodeIds].map((nodeId) => {
        const status = statuses.find((s) => s.nodeId === nodeId);
        return {
          nodeId,
          nodeName: nodes.find((n) => n.id === nodeId)?.name ?? nodeId,
          version: status?.version ?? null,
          servingVersion: status?.servingVersion ?? null,
          state: status?.state ?? 'pending',
          reason: status?.reason ?? null,
          updatedAt: status ? new Date(status.updatedAt).toISOString() : null,
        };
      }),
      createdAt: new Date(deployment.createdAt).toISOString(),
      updatedAt: new Date(deployment.updatedAt).toISOString(),
    };
  }

  private async placements(
    aliveNodeId?: string,
  ): Promise<{ deployment: DeploymentRecord; version: ModelVersionView; nodeIds: string[] }[]> {
    const { deployments, nodes: allNodes } = await this.currentSnapshot();
    const nodes = allNodes.map((node) => (node.id === aliveNodeId ? { ...node, status: 'online' as const } : node));
    const placed = [];
    for (const { deployment, version } of deployments) {
      // A selector that resolves to nothing (model deleted, alias removed) places nowhere.
      if (!version) continue;
      const nodeIds = placeDeployment(deployment.nodeSelector, version.artifact.sizeBytes, nodes).map((n) => n.id);
      placed.push({ deployment, version, nodeIds });
    }
    return placed;
  }

  private currentSnapshot(): Promise<Snapshot> {
    const now = Date.now();
    if (this.snapshot && this.snapshotMeta.generation === this.changes.generation && now - this.snapshotMeta.at < SNAPSHOT_MS)
      return this.snapshot;
    const generation = this.changes.generation;
    this.snapshotMeta = { at: now, generation };
    const snapshot = (async (): Promise<Snapshot> => {
      const deployments = await this.deployments.list();
      const resolved = await Promise.all(
        deployments.map(async (deployment) => ({
          deployment,
          version: await this.models.resolve(deployment.modelSelector).catch(() => undefined),
        })),
      );
      return { deployments: resolved, nodes: deployments.length === 0 ? [] : await this.nodes.list() };
    })();
    this.snapshot = snapshot;
    snapshot.catch(() => {
      if (this.snapshot === snapshot) this.snapshot = undefined;
    });
    return snapshot;
  }
}
