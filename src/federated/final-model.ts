import type { FederatedJobConfig, RoundMetrics } from '../contracts/federated.js';
import type { ModelVersionView } from '../contracts/models.js';
import { readBundleManifest } from '../ml/bundle/read-manifest.js';
import type { FederatedModelSpec } from '../ml/federated/federated-model.js';
import { packageFederatedModel } from '../ml/federated/package-federated.js';
import type { ModelRegistry } from '../registry/model-registry.js';
import type { FlJobsTable, FlRoundsTable, FlUpdatesTable } from '../store/schema.js';

/**
 * Packs a finished job's global weights as an ordinary bundle and registers it, with lineage to the
 * job: its settings and, per aggregated round, the participants, examples and the clients' metrics.
 */
export async function registerFinalModel(
  models: ModelRegistry,
  row: FlJobsTable,
  rounds: FlRoundsTable[],
  updates: FlUpdatesTable[],
  weights: Float32Array,
  codeVersion: string,
): Promise<ModelVersionView> {
  const config = JSON.parse(row.config) as FederatedJobConfig;
  const spec = JSON.parse(row.model_spec) as FederatedModelSpec;
  const done = rounds.filter((r) => r.status === 'aggregated');
  const record = done.map((r) => {
    const m = JSON.parse(r.metrics ?? '{}') as RoundMetrics;
    const accepted = updates.filter(
      (u) => Number(u.round) === Number(r.round) && Number(u.attempt) === Number(r.attempt) && u.status === 'accepted',
    );
    return {
      round: Number(r.round),
      participants: accepted.map((u) => u.node_name),
      examples: m.examples,
      loss: m.evalLoss,
      accuracy: m.evalAccuracy,
      ...(m.serverAccuracy != null ? { serverAccuracy: m.serverAccuracy } : {}),
      ...(m.serverLoss != null ? { serverLoss: m.serverLoss } : {}),
    };
  });
  const bundle = await packageFederatedModel(spec, weights, {
    jobId: row.id,
    strategy: config.strategy,
    rounds: record.map((r) => ({ round: r.round, participants: r.participants.length, loss: r.loss, accuracy: r.accuracy })),
    params: { ...config },
    examples: record.reduce((n, r) => n + r.examples, 0),
  });
  const manifest = readBundleManifest(bundle);
  const last = record[record.length - 1];
  return models.register({
    model: row.model_name,
    bundle,
    framework: 'tfjs',
    kind: manifest.kind,
    ioSignature: manifest.signature,
    metrics: {
      ...(last?.accuracy != null ? { federatedAccuracy: last.accuracy } : {}),
      ...(last?.loss != null ? { federatedLoss: last.loss } : {}),
      // On the central test set, when the job had one: comparable with a centrally trained version's accuracy.
      ...(last?.serverAccuracy != null ? { accuracy: last.serverAccuracy } : {}),
      ...(last?.serverLoss != null ? { serverLoss: last.serverLoss } : {}),
      rounds: record.length,
    },
    lineage: {
      runId: row.id,
      dataset: null,
      parameters: { federatedJob: row.id, datasetKind: row.dataset_kind, ...config, rounds: record },
      codeVersion: codeVersion,
    },
    description: `Federated ${config.strategy} over ${record.length} rounds (job ${row.id})`,
    createdBy: row.created_by,
  });
}
