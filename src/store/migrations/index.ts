import type { Migration } from 'kysely';
import type { DialectName } from '../database-url.js';
import * as nodesAndTokens from './0001-nodes-and-tokens.js';
import { audit } from './0002-audit-log.js';
import * as modelRegistry from './0003-model-registry.js';
import * as datasets from './0004-datasets.js';
import { pipelineRuns } from './0005-pipeline-runs.js';
import * as deployments from './0006-deployments.js';
import * as rollouts from './0007-rollouts.js';
import * as federated from './0008-federated.js';
import * as offload from './0009-offload.js';
import * as drift from './0010-drift.js';

import * as nodeLatency from './0011-node-latency.js';
import * as offloadCounts from './0012-offload-counts.js';
import * as jointInference from './0013-joint-inference.js';
import * as sessions from './0014-sessions.js';
import * as nodeInferenceUrl from './0015-node-inference-url.js';
import * as joinPolicies from './0016-join-policies.js';
import * as tokenScopes from './0017-token-scopes.js';
import * as leases from './0018-leases.js';
import { artifactChunks } from './0019-artifact-chunks.js';
import * as federatedPollers from './0020-federated-pollers.js';
import * as runAttempts from './0021-run-attempts.js';
import * as deviceBindings from './0022-device-bindings.js';
/** Every schema change, in order. Names sort in the order they run; never rename one. */
export function allMigrations(dialect: DialectName): Record<string, Migration> {
  return {
    '0001-nodes-and-tokens': nodesAndTokens,
    '0002-audit-log': audit(dialect),
    '0003-model-registry': modelRegistry,
    '0004-datasets': datasets,
    '0005-pipeline-runs': pipelineRuns(dialect),
    '0006-deployments': deployments,
    '0007-rollouts': rollouts,
    '0008-federated': federated,
    '0009-offload': offload,
    '0010-drift': drift,
    '0011-node-latency': nodeLatency,
    '0012-offload-counts': offloadCounts,
    '0013-joint-inference': jointInference,
    '0014-sessions': sessions,
    '0015-node-inference-url': nodeInferenceUrl,
    '0016-join-policies': joinPolicies,
    '0017-token-scopes': tokenScopes,
    '0018-leases': leases,
    '0019-artifact-chunks': artifactChunks(dialect),
    '0020-federated-pollers': federatedPollers,
    '0021-run-attempts': runAttempts,
    '0022-device-bindings': deviceBindings,
  };
}
