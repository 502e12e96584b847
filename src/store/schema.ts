import type { Generated } from 'kysely';

/**
 * Table types for the query builder. Times are epoch milliseconds (bigint columns), booleans
 * are 0/1 integers and structured values are JSON text, so that one set of queries runs
 * unchanged on SQLite, PostgreSQL and MariaDB.
 */
export interface TokensTable {
  id: string;
  name: string;
  role: string;
  secret_hash: string;
  node_id: string | null;
  expires_at: number | null;
  max_uses: number | null;
  uses: number;
  revoked_at: number | null;
  created_at: number;
  created_by: string | null;
  /** Join tokens: what they decide for the nodes that enrol with them (JSON, migration 0016). */
  join_policy: string | null;
}

/** Scopes of inference tokens (migration 0017): `deployment:<name>` or `metrics`. */
export interface TokenScopesTable {
  token_id: string;
  scope: string;
}

export interface NodesTable {
  id: string;
  name: string;
  role: string;
  labels: string;
  cordoned: number;
  resources: string | null;
  agent: string | null;
  /** Where the control plane calls the agent: set at enrolment or by an operator, never by a heartbeat (0015). */
  inference_url: string | null;
  last_heartbeat_at: number | null;
  enrolled_at: number;
  updated_at: number;
  /** 1 until an operator approves a node enrolled with a --require-approval join token (migration 0016). */
  pending: Generated<number>;
  /** The credential the node uses now, and one handed to it on a rotation but not used yet. */
  credential_id: string | null;
  next_credential_id: string | null;
  /** 1 when an operator asked for a new credential: handed out with the node's next heartbeat. */
  rotate_credential: Generated<number>;
  credential_ttl_seconds: number | null;
}

export interface AuditEventsTable {
  id: Generated<number>;
  at: number;
  actor_id: string | null;
  actor_name: string;
  actor_role: string;
  action: string;
  target: string | null;
  status_code: number;
}

export interface ModelsTable {
  name: string;
  description: string | null;
  created_at: number;
  updated_at: number;
}

export interface ModelVersionsTable {
  model_name: string;
  version: number;
  artifact_sha256: string;
  artifact_size: number;
  bundle_signature: string;
  framework: string;
  kind: string;
  io_signature: string;
  metrics: string;
  lineage: string;
  tags: string;
  description: string | null;
  created_at: number;
  created_by: string | null;
}

export interface ModelAliasesTable {
  model_name: string;
  alias: string;
  version: number;
  updated_at: number;
}

export interface DatasetVersionsTable {
  name: string;
  version: number;
  kind: string;
  sha256: string;
  size_bytes: number;
  schema_json: string;
  row_count: number;
  time_start: number | null;
  time_end: number | null;
  report: string;
  source: string;
  created_at: number;
  created_by: string | null;
}

export interface RunsTable {
  id: string;
  pipeline: string;
  dataset_name: string;
  dataset_version: number;
  model_name: string;
  params: string;
  gate: string;
  status: string;
  error: string | null;
  result: string | null;
  registered_version: number | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  created_by: string | null;
  /** 0 until a worker claims the run; each claim (a retry after a lost worker) adds one. */
  attempt: number;
  worker: string | null;
  heartbeat_at: number | null;
  cancel_requested: number;
  progress: string | null;
}

export interface RunStepsTable {
  run_id: string;
  position: number;
  name: string;
  status: string;
  cache_key: string | null;
  summary: string | null;
  error: string | null;
  started_at: number | null;
  finished_at: number | null;
}

export interface RunEventsTable {
  id: Generated<number>;
  run_id: string;
  at: number;
  step: string;
  kind: string;
  payload: string;
}

export interface DeploymentsTable {
  name: string;
  model_selector: string;
  node_selector: string;
  strategy: string;
  canary_percent: number;
  soak_seconds: number;
  max_error_rate: number;
  /** RolloutState as JSON; null until the first rollout starts. */
  rollout: string | null;
  /** Bumped on every rollout write: writers that read an older revision retry (optimistic locking). */
  rollout_revision: number;
  /** edge-only, cloud-only or auto (OffloadPolicy). */
  offload_policy: string;
  /** What `auto` keeps a request's expected latency under before it offloads. */
  latency_target_ms: number;
  /** Joint inference setting (JointSetting) as JSON; null without one. */
  joint: string | null;
  /** MQTT device binding (DeviceBinding) as JSON; null without one. */
  mqtt: string | null;
  created_at: number;
  updated_at: number;
  created_by: string | null;
}

export interface DeploymentNodeStatusTable {
  deployment_name: string;
  node_id: string;
  version: number | null;
  serving_version: number | null;
  state: string;
  reason: string | null;
  requests: number;
  errors: number;
  latency_p50_ms: number | null;
  latency_p99_ms: number | null;
  local_requests: number;
  offloaded_requests: number;
  /** The node's joint-inference counts (JointCounts) as JSON; null when it reported none. */
  joint_counts: string | null;
  /** The node's MQTT binding counts (DeviceCounts) as JSON; null when it reported none. */
  mqtt_counts: string | null;
  updated_at: number;
}

export interface FlJobsTable {
  id: string;
  model_name: string;
  dataset_kind: string;
  /** FederatedJobConfig as JSON. */
  config: string;
  /** The ML library's FederatedModelSpec as JSON. */
  model_spec: string;
  status: string;
  rounds_completed: number;
  /** Global weights after the last completed round (a file in the federated store). */
  weights_sha256: string;
  /** FedAdam's moments, when the strategy has them. */
  optimizer_sha256: string | null;
  error: string | null;
  registered_version: number | null;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
  created_by: string | null;
}

export interface FlRoundsTable {
  job_id: string;
  round: number;
  attempt: number;
  status: string;
  sampled: string;
  metrics: string | null;
  reason: string | null;
  started_at: number;
  deadline_at: number;
  finished_at: number | null;
}

export interface FlUpdatesTable {
  job_id: string;
  round: number;
  attempt: number;
  node_id: string;
  node_name: string;
  status: string;
  reason: string | null;
  examples: number;
  bytes: number;
  metrics: string;
  update_sha256: string | null;
  received_at: number;
}

export interface DriftPoliciesTable {
  deployment_name: string;
  /** The policy's settings as JSON (DriftPolicySettings). */
  config: string;
  created_at: number;
  updated_at: number;
  updated_by: string | null;
}

/** The newest drift summary of one node for one deployment (aggregates only). */
export interface DriftReportsTable {
  deployment_name: string;
  node_id: string;
  model: string;
  version: number;
  summary: string;
  received_at: number;
}

export interface DriftEventsTable {
  id: string;
  deployment_name: string;
  /** drift or manual. */
  trigger_kind: string;
  node_id: string | null;
  model: string;
  version: number;
  findings: string;
  action: string;
  status: string;
  run_id: string | null;
  challenger_version: number | null;
  evaluation: string | null;
  timeline: string;
  created_at: number;
  updated_at: number;
}

export interface InferenceSessionsTable {
  id: string;
  deployment_name: string;
  kind: string;
  /** edge or cloud. */
  placement: string;
  node_id: string | null;
  node_name: string | null;
  /** pending, connected or closed. */
  state: string;
  reason: string;
  created_at: number;
  expires_at: number;
  connected_at: number | null;
  closed_at: number | null;
  close_reason: string | null;
}

/** A node a deployment was loaded on for a session, outside its own node selector. */
export interface OnDemandPlacementsTable {
  deployment_name: string;
  node_id: string;
  created_at: number;
  last_used_at: number;
}

/** A lease control-plane replicas contend for (one leader runs the background controllers). */
export interface FederatedPollersTable {
  node_id: string;
  /** JSON array of data kinds the node holds; null: any. */
  kinds: string | null;
  seen_at: number;
}

export interface LeasesTable {
  name: string;
  /** The holding process's random id. */
  holder: string;
  host: string;
  pid: number;
  /** On the database's clock. */
  expires_at: number;
  acquired_at: number;
}

/** An upload to the database artifact store; an artifact once committed (migration 0019). */
export interface ArtifactBlobsTable {
  id: string;
  space: string;
  /** Null until every chunk is in. */
  sha256: string | null;
  size_bytes: number | null;
  chunk_bytes: number;
  started_at: number;
  committed_at: number | null;
}

export interface ArtifactChunksTable {
  blob_id: string;
  seq: number;
  bytes: Buffer;
}

export interface Database {
  tokens: TokensTable;
  token_scopes: TokenScopesTable;
  nodes: NodesTable;
  audit_events: AuditEventsTable;
  models: ModelsTable;
  model_versions: ModelVersionsTable;
  model_aliases: ModelAliasesTable;
  dataset_versions: DatasetVersionsTable;
  runs: RunsTable;
  run_steps: RunStepsTable;
  run_events: RunEventsTable;
  deployments: DeploymentsTable;
  deployment_node_status: DeploymentNodeStatusTable;
  fl_jobs: FlJobsTable;
  fl_rounds: FlRoundsTable;
  fl_updates: FlUpdatesTable;
  drift_policies: DriftPoliciesTable;
  drift_reports: DriftReportsTable;
  drift_events: DriftEventsTable;
  inference_sessions: InferenceSessionsTable;
  on_demand_placements: OnDemandPlacementsTable;
  leases: LeasesTable;
  federated_pollers: FederatedPollersTable;
  artifact_blobs: ArtifactBlobsTable;
  artifact_chunks: ArtifactChunksTable;
}
