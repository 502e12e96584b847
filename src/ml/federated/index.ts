// Federated learning: client updates, their wire encoding and checks, and server aggregation.
// Plain data in and out (Float32Array weights), no HTTP or SQL: the control plane aggregates,
// agents train, and bench/fl simulates both in one process.

export {
  type AggregationResult,
  aggregate,
  checkUpdate,
  type ClientUpdate,
  clipToNorm,
  exampleWeights,
  l2Norm,
  SERVER_STRATEGIES,
  type ServerOptimizerSettings,
  type ServerOptimizerState,
  type ServerStrategy,
  type UpdateRejection,
  weightedMean,
} from './aggregation.js';
export {
  type ClientTrainParams,
  type ClientUpdateResult,
  DEFAULT_CLIENT_PARAMS,
  evaluateWeights,
  type LocalEvaluation,
  trainClientUpdate,
} from './client-update.js';
export {
  buildFederatedModel,
  type ClientMatrices,
  clientMatrices,
  digitsModelSpec,
  evaluationMatrices,
  type FederatedModelSpec,
  flatWeights,
  forecastModelSpec,
  initialWeights,
  setFlatWeights,
  weightCount,
} from './federated-model.js';
export { type FederatedTrainingRecord, packageFederatedModel } from './package-federated.js';
export { labelSkewPartition } from './partition.js';
export {
  type AdvertisedKeys,
  type EncryptedShares,
  fromRing,
  type MaskedInput,
  prg,
  SecAggClient,
  type SecAggConfig,
  shamirCombine,
  shamirSplit,
  toRing,
  type UnmaskResponse,
  unmaskSum,
} from './secure-aggregation.js';
export {
  crc32,
  decodeUpdate,
  type DecodedUpdate,
  encodeUpdate,
  payloadSize,
  UPDATE_ENCODINGS,
  type UpdateEncoding,
  type UpdateMeta,
} from './update-codec.js';
