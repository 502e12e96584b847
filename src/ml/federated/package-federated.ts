import type { ManifestBody } from '../bundle/package-model.js';
import { packageModel } from '../bundle/package-model.js';
import { forecasterSignature } from '../forecast/forecaster-predictor.js';
import { imageClassifierSignature } from '../image/image-classifier-predictor.js';
import { referenceStats } from '../stats/reference-stats.js';
import { useBackend } from '../tf/backend.js';
import { buildFederatedModel, type FederatedModelSpec, setFlatWeights } from './federated-model.js';
import { crc32 } from './update-codec.js';

export interface FederatedTrainingRecord {
  jobId: string;
  strategy: string;
  rounds: Array<{ round: number; participants: number; loss: number | null; accuracy: number | null }>;
  params: Record<string, unknown>;
  /** Examples behind the final model (all rounds' accepted updates). */
  examples: number;
}

/**
 * Packs federated global weights as an ordinary model bundle (same kind, signature and loader as
 * a centrally trained one), so it registers, deploys and serves like any other version. No data
 * reached the server: the data fingerprint names the job, and the reference statistics are empty.
 */
export async function packageFederatedModel(
  spec: FederatedModelSpec,
  weights: Float32Array,
  record: FederatedTrainingRecord,
): Promise<Uint8Array> {
  const backend = await useBackend('wasm');
  const model = buildFederatedModel(spec);
  try {
    setFlatWeights(model, weights);
    const last = record.rounds[record.rounds.length - 1];
    const training = {
      params: { ...record.params, federatedJob: record.jobId, strategy: record.strategy },
      backend,
      epochsRun: record.rounds.length,
      bestEpoch: record.rounds.length,
      // Per round: the clients' loss of the global model on their held-out data (rounds without reports are left out).
      history: record.rounds
        .filter((r) => r.loss !== null && Number.isFinite(r.loss))
        .map((r) => ({ epoch: r.round, loss: r.loss!, valLoss: r.loss! })),
    };
    const weightsBytes = new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength);
    const data = { sha256: `federated:${record.jobId}:${crc32(weightsBytes).toString(16)}`, points: record.examples };
    const empty = referenceStats([]);
    if (spec.kind === 'image-classifier') {
      const body: ManifestBody = {
        kind: 'image-classifier',
        signature: imageClassifierSignature(spec.recipe),
        preprocessing: spec.recipe,
        metrics: { validation: { accuracy: last?.accuracy ?? null, count: record.examples }, federated: { rounds: record.rounds } },
        training,
        data,
        referenceStats: { inputs: { image: empty }, outputs: { probabilities: empty } },
      };
      return await packageModel(model, body);
    }
    const body: ManifestBody = {
      kind: 'forecaster',
      signature: forecasterSignature(spec.recipe.window, spec.recipe.horizon),
      preprocessing: spec.recipe,
      metrics: { federated: { rounds: record.rounds } },
      training,
      data,
      referenceStats: { inputs: { history: empty }, outputs: { forecast: empty } },
    };
    return await packageModel(model, body);
  } finally {
    model.dispose();
  }
}
