import type { FederatedJobConfig, FederatedJobView, StartFederatedJobRequest } from '../contracts/federated.js';
import { FoglineError } from '../errors/fogline-error.js';
import { digitsModelSpec, type FederatedModelSpec, forecastModelSpec } from '../ml/federated/federated-model.js';

/** Fills in every default of a start request. */
export function resolveJobConfig(request: StartFederatedJobRequest): FederatedJobConfig {
  const strategy = request.strategy ?? 'fedavg';
  return {
    rounds: request.rounds ?? 20,
    strategy,
    nodeSelector: request.nodeSelector ?? {},
    fractionFit: request.fractionFit ?? 1,
    minFitClients: request.minFitClients ?? 2,
    quorum: request.quorum ?? 0.5,
    roundTimeoutSeconds: request.roundTimeoutSeconds ?? 60,
    maxRoundFailures: request.maxRoundFailures ?? 3,
    localEpochs: request.localEpochs ?? 1,
    batchSize: request.batchSize ?? 16,
    learningRate: request.learningRate ?? 0.1,
    proximalMu: request.proximalMu ?? (strategy === 'fedprox' ? 0.01 : 0),
    serverLearningRate: request.serverLearningRate ?? (strategy === 'fedadam' ? 0.03 : 1),
    encoding: request.encoding ?? 'float32',
    maxUpdateNorm: request.maxUpdateNorm ?? 1000,
    clipNorm: request.clipNorm ?? null,
    hidden: request.hidden ?? (request.datasetKind === 'digits' ? [64] : [64, 64]),
    seed: request.seed ?? 1,
    // Resolved to a pinned version when the job is created.
    evaluationDataset: null,
    scaleMean: request.scaleMean ?? null,
    scaleStd: request.scaleStd ?? null,
  };
}

/** The shared architecture and preprocessing of a job's model. */
export function specFor(datasetKind: FederatedJobView['datasetKind'], config: FederatedJobConfig): FederatedModelSpec {
  if (datasetKind === 'digits') return digitsModelSpec({ hidden: config.hidden, seed: config.seed });
  if (config.scaleMean === null || config.scaleStd === null) {
    throw new FoglineError(
      'FOGLINE_ERR_FL_JOB_INVALID',
      'A forecast job needs the shared scaler: scaleMean and scaleStd (e.g. the region’s typical load and its spread, in MW)',
    );
  }
  return forecastModelSpec({ scaler: { mean: config.scaleMean, std: config.scaleStd }, hidden: config.hidden, seed: config.seed });
}
