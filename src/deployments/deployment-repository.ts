import type { Kysely } from 'kysely';
import {
  DEFAULT_LATENCY_TARGET_MS,
  type DeploymentStatusReport,
  type DeploymentStrategy,
  type JointCounts,
  type JointSetting,
  type NodeDeploymentState,
  OFFLOAD_POLICIES,
  type OffloadPolicy,
} from '../contracts/deployments.js';
import type { DeviceBinding, DeviceCounts } from '../contracts/devices.js';
import { FoglineError } from '../errors/fogline-error.js';
import type { LabelMap } from '../nodes/labels.js';
import type { Database } from '../store/schema.js';
import { isUniqueViolation } from '../store/unique-violation.js';
import { advanceRollout, initialRollout, type RolloutPolicy, type RolloutState } from './rollout.js';
import { type ChangePublisher, NO_CHANGES } from '../cluster/change-event.js';

export interface DeploymentRecord extends RolloutPolicy {
  name: string;
  modelSelector: string;
  nodeSelector: LabelMap;
  rollout: RolloutState;
  /** The rollout's write revision: `saveRollout` succeeds only against the revision it read. */
  rolloutRevision: number;
  /** Where its requests run (edge-only, cloud-only, auto); agents decide per request. */
  offload: OffloadPolicy;
  /** auto: the expected latency on the node past which a request goes to the cloud. */
  latencyTargetMs: number;
  /** Joint inference: the cloud model (a selector), the hard-example rule and its threshold; null without. */
  joint: JointSetting | null;
  /** MQTT device binding (checked by the caller); null without one. */
  mqtt: DeviceBinding | null;
  createdAt: number;
  updatedAt: number;
  createdBy: string | null;
}

export interface NodeStatusRecord {
  nodeId: string;
  version: number | null;
  servingVersion: number | null;
  state: NodeDeploymentState;
  reason: string | null;
  requests: number;
  errors: number;
  latencyP50Ms: number | null;
  latencyP99Ms: number | null;
  /** Where the node's answered requests ran since its agent started: on the node, or in the cloud. */
  localRequests: number;
  offloadedRequests: number;
  /** The node's joint-inference counts since its agent started; null when it reported none. */
  joint: JointCounts | null;
  /** The node's MQTT binding counts since its agent started; null when it reported none. */
  mqtt: DeviceCounts | null;
  updatedAt: number;
}

/** Deployments as the database keeps them, with what each node last reported about them. */
export class DeploymentRepository {
  /** Where its changes are announced (the control plane's ChangeSignal). */
  changes: ChangePublisher = NO_CHANGES;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => number = Date.now,
  ) {}

  async create(input: {
    name: string;
    modelSelector: string;
    nodeSelector: LabelMap;
    policy: RolloutPolicy;
    /** Offload policy; edge-only with a 50 ms target when not given. */
    offload?: { policy: OffloadPolicy; latencyTargetMs: number };
    /** Joint inference (validated by the caller); none when not given. */
    joint?: JointSetting;
    /** MQTT device binding (checked by the caller); none when not given. */
    mqtt?: DeviceBinding;
    /** The first version the selector resolves to: it goes out at once, without waiting for the rollout controller. */
    firstVersion: number;
    createdBy: string | null;
  }): Promise<DeploymentRecord> {
    const now = this.now();
    try {
      await this.db
        .insertInto('deployments')
        .values({
          name: input.name,
          model_selector: input.modelSelector,
          node_selector: JSON.stringify(input.nodeSelector),
          strategy: input.policy.strategy,
          canary_percent: input.policy.canaryPercent,
          soak_seconds: Math.round(input.policy.soakMs / 1000),
          max_error_rate: input.policy.maxErrorRate,
          rollout: JSON.stringify(
            advanceRollout(initialRollout(now), input.policy, {
              now,
              resolvedVersion: input.firstVersion,
              placedNodes: [],
              reports: new Map(),
            }),
          ),
          rollout_revision: 0,
          offload_policy: input.offload?.policy ?? 'edge-only',
          latency_target_ms: input.offload?.latencyTargetMs ?? DEFAULT_LATENCY_TARGET_MS,
          joint: input.joint
            ? JSON.stringify({ cloudModel: input.joint.cloudModel, rule: input.joint.rule, threshold: input.joint.threshold })
            : null,
          mqtt: input.mqtt ? JSON.stringify(input.mqtt) : null,
          created_at: now,
          updated_at: now,
          created_by: input.createdBy,
        })
        .execute();
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new FoglineError(
          'FOGLINE_ERR_DEPLOYMENT_NAME_TAKEN',
          `A deployment named "${input.name}" exists: delete it first or pick another --name`,
        );
      }
      throw error;
    }
    this.changes.publish({ kind: 'deployment-changed', deployment: input.name, change: 'created' });
    return this.get(input.name);
  }

  async list(): Promise<DeploymentRecord[]> {
    return (await this.db.selectFrom('deployments').selectAll().orderBy('name').execute()).map(toRecord);
  }

  async get(name: string): Promise<DeploymentRecord> {
    const row = await this.db.selectFrom('deployments').selectAll().where('name', '=', name).executeTakeFirst();
    if (!row) throw new FoglineError('FOGLINE_ERR_DEPLOYMENT_NOT_FOUND', `No deployment is named "${name}" (fogline deploy list)`);
    return toRecord(row);
  }

  /**
   * Stores a rollout step if nobody else stored one since `record` was read; false when
   * someone did (the caller reads again and retries).
   */
  async saveRollout(record: DeploymentRecord, rollout: RolloutState): Promise<boolean> {
    const result = await this.db
      .updateTable('deployments')
      .set({ rollout: JSON.stringify(rollout), rollout_revision: record.rolloutRevision + 1, updated_at: this.now() })
      .where('name', '=', record.name)
      .where('rollout_revision', '=', record.rolloutRevision)
      .executeTakeFirst();
    const saved = Number(result.numUpdatedRows) === 1;
    if (saved) this.changes.publish({ kind: 'deployment-changed', deployment: record.name, change: 'rollout' });
    return saved;
  }

  /**
   * Asks the rollout to `version` to go first to `nodes` (a canary, whatever the strategy); set it
   * before moving the selector. Retries a lost race with the rollout controller.
   */
  async preferCanary(name: string, version: number, nodes: string[]): Promise<void> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const record = await this.get(name);
      if (await this.saveRollout(record, { ...record.rollout, preferredCanary: { version, nodes } })) return;
    }
    throw new Error(`could not store the preferred canary of ${name}: the rollout kept changing`);
  }

  async delete(name: string): Promise<void> {
    await this.get(name);
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('deployment_node_status').where('deployment_name', '=', name).execute();
      await trx.deleteFrom('deployments').where('name', '=', name).execute();
    });
    this.changes.publish({ kind: 'deployment-changed', deployment: name, change: 'deleted' });
  }

  /** Records a node's report; names that are not deployments (any more) are ignored. */
  async recordStatus(nodeId: string, report: DeploymentStatusReport): Promise<void> {
    const names = report.deployments.map((d) => d.name);
    if (names.length === 0) return;
    // Only the reported names, not every deployment with its rollout: reports come all the time.
    const rows = await this.db.selectFrom('deployments').select('name').where('name', 'in', names).execute();
    const known = new Set(rows.map((row) => row.name));
    const now = this.now();
    await this.db.transaction().execute(async (trx) => {
      for (const item of report.deployments.filter((d) => known.has(d.name))) {
        await trx.deleteFrom('deployment_node_status').where('deployment_name', '=', item.name).where('node_id', '=', nodeId).execute();
        await trx
          .insertInto('deployment_node_status')
          .values({
            deployment_name: item.name,
            node_id: nodeId,
            version: item.version,
            serving_version: item.servingVersion ?? (item.state === 'serving' ? item.version : null),
            state: item.state,
            reason: item.reason ?? null,
            requests: item.requests ?? 0,
            errors: item.errors ?? 0,
            latency_p50_ms: item.latencyP50Ms ?? null,
            latency_p99_ms: item.latencyP99Ms ?? null,
            local_requests: item.localRequests ?? 0,
            offloaded_requests: item.offloadedRequests ?? 0,
            joint_counts: item.joint ? JSON.stringify(item.joint) : null,
            mqtt_counts: item.mqtt ? JSON.stringify(item.mqtt) : null,
            updated_at: now,
          })
          .execute();
      }
    });
  }

  async statuses(name: string): Promise<NodeStatusRecord[]> {
    const rows = await this.ofExistingNodes().where('deployment_node_status.deployment_name', '=', name).execute();
    return rows.map(toStatus);
  }

  /** One node's report for a deployment (undefined before its first). */
  /** Reports of nodes that exist: a deleted node's rows never show (one written as it was deleted included). */
  private ofExistingNodes() {
    return this.db
      .selectFrom('deployment_node_status')
      .innerJoin('nodes', 'nodes.id', 'deployment_node_status.node_id')
      .selectAll('deployment_node_status');
  }

  async statusOf(name: string, nodeId: string): Promise<NodeStatusRecord | undefined> {
    const row = await this.ofExistingNodes()
      .where('deployment_node_status.deployment_name', '=', name)
      .where('deployment_node_status.node_id', '=', nodeId)
      .executeTakeFirst();
    return row && toStatus(row);
  }

  /** How many nodes report each state and serving version, per deployment (nodes that exist only). */
  async stateCounts(): Promise<{ deployment: string; state: NodeDeploymentState; servingVersion: number | null; nodes: number }[]> {
    const rows = await this.db
      .selectFrom('deployment_node_status')
      .innerJoin('nodes', 'nodes.id', 'deployment_node_status.node_id')
      .select(['deployment_node_status.deployment_name', 'deployment_node_status.state', 'deployment_node_status.serving_version'])
      .select((eb) => eb.fn.countAll().as('count'))
      .groupBy(['deployment_node_status.deployment_name', 'deployment_node_status.state', 'deployment_node_status.serving_version'])
      .execute();
    return rows.map((row) => ({
      deployment: row.deployment_name,
      state: row.state as NodeDeploymentState,
      servingVersion: row.serving_version,
      nodes: Number(row.count),
    }));
  }

  /** Every deployment's node reports, by deployment name. */
  async allStatuses(): Promise<Map<string, NodeStatusRecord[]>> {
    const byName = new Map<string, NodeStatusRecord[]>();
    for (const row of await this.ofExistingNodes().execute()) {
      const list = byName.get(row.deployment_name) ?? [];
      list.push(toStatus(row));
      byName.set(row.deployment_name, list);
    }
    return byName;
  }
}

function toStatus(row: Database['deployment_node_status']): NodeStatusRecord {
  return {
    nodeId: row.node_id,
    version: row.version,
    servingVersion: row.serving_version,
    state: row.state as NodeDeploymentState,
    reason: row.reason,
    requests: Number(row.requests),
    errors: Number(row.errors),
    latencyP50Ms: row.latency_p50_ms === null ? null : Number(row.latency_p50_ms),
    latencyP99Ms: row.latency_p99_ms === null ? null : Number(row.latency_p99_ms),
    localRequests: Number(row.local_requests),
    offloadedRequests: Number(row.offloaded_requests),
    joint: row.joint_counts ? (JSON.parse(row.joint_counts) as JointCounts) : null,
    mqtt: row.mqtt_counts ? (JSON.parse(row.mqtt_counts) as DeviceCounts) : null,
    updatedAt: Number(row.updated_at),
  };
}

function toRecord(row: Database['deployments']): DeploymentRecord {
  return {
    name: row.name,
    modelSelector: row.model_selector,
    nodeSelector: JSON.parse(row.node_selector) as LabelMap,
    strategy: row.strategy as DeploymentStrategy,
    canaryPercent: row.canary_percent,
    soakMs: row.soak_seconds * 1000,
    maxErrorRate: Number(row.max_error_rate),
    rollout: row.rollout === null ? initialRollout(Number(row.created_at)) : (JSON.parse(row.rollout) as RolloutState),
    rolloutRevision: row.rollout_revision,
    offload: (OFFLOAD_POLICIES as readonly string[]).includes(row.offload_policy) ? (row.offload_policy as OffloadPolicy) : 'edge-only',
    latencyTargetMs: Number(row.latency_target_ms),
    joint: row.joint ? (JSON.parse(row.joint) as JointSetting) : null,
    mqtt: row.mqtt ? (JSON.parse(row.mqtt) as DeviceBinding) : null,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    createdBy: row.created_by,
  };
}
