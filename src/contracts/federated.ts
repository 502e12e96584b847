import { type Static, Type } from '@sinclair/typebox';
import { IsoTime, Labels, Nullable } from './common.js';
import { ModelName } from './models.js';

export const FEDERATED_STRATEGIES = ['fedavg', 'fedprox', 'fedadam'] as const;
export type FederatedStrategy = (typeof FEDERATED_STRATEGIES)[number];
export const FEDERATED_DATASET_KINDS = ['digits', 'forecast'] as const;
export type FederatedDatasetKind = (typeof FEDERATED_DATASET_KINDS)[number];
export const UPDATE_ENCODING_NAMES = ['float32', 'float16', 'q8'] as const;
export const FEDERATED_JOB_STATUSES = ['running', 'succeeded', 'failed', 'canceled'] as const;
export type FederatedJobStatus = (typeof FEDERATED_JOB_STATUSES)[number];
export const ROUND_STATUSES = ['open', 'aggregated', 'failed', 'canceled'] as const;
export type RoundStatus = (typeof ROUND_STATUSES)[number];

const literals = <T extends readonly string[]>(values: T) => Type.Union(values.map((v) => Type.Literal(v)));

export const StartFederatedJobRequest = Type.Object(
  {
    model: ModelName,
    datasetKind: literals(FEDERATED_DATASET_KINDS),
    nodeSelector: Type.Optional(Labels),
    rounds: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 20 })),
    strategy: Type.Optional(literals(FEDERATED_STRATEGIES)),
    fractionFit: Type.Optional(
      Type.Number({ minimum: 0, maximum: 1, default: 1, description: 'Share of the available clients sampled each round' }),
    ),
    minFitClients: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 10_000,
        default: 2,
        description: 'Fewest clients a round samples; it waits until this many are available',
      }),
    ),
    quorum: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 1,
        default: 0.5,
        description: 'Share of the sampled clients whose accepted updates let a round aggregate at its deadline (at least one)',
      }),
    ),
    roundTimeoutSeconds: Type.Optional(Type.Number({ minimum: 1, maximum: 86_400, default: 60 })),
    maxRoundFailures: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 100, default: 3, description: 'Failed attempts of one round (no quorum) before the job fails' }),
    ),
    localEpochs: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 1 })),
    batchSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 4096, default: 16 })),
    learningRate: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 10, default: 0.1, description: 'Client SGD learning rate' })),
    proximalMu: Type.Optional(
      Type.Number({ minimum: 0, maximum: 100, description: "FedProx's μ (default 0.01 with fedprox, 0 otherwise)" }),
    ),
    serverLearningRate: Type.Optional(
      Type.Number({ exclusiveMinimum: 0, maximum: 10, description: 'Server step: 1 for fedavg/fedprox, 0.03 for fedadam by default' }),
    ),
    encoding: Type.Optional(literals(UPDATE_ENCODING_NAMES)),
    maxUpdateNorm: Type.Optional(
      Type.Number({ exclusiveMinimum: 0, default: 1000, description: 'Updates with a larger L2 norm are rejected' }),
    ),
    clipNorm: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'Accepted updates are scaled down to this norm' })),
    hidden: Type.Optional(Type.Array(Type.Integer({ minimum: 1, maximum: 1024 }), { minItems: 1, maxItems: 4 })),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1, default: 1 })),
    evaluationDataset: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 220,
        description:
          'A central test set (name or name@version; digits: an image-csv dataset, forecast: a timeseries one) the control plane scores the global model on after every round',
      }),
    ),
    scaleMean: Type.Optional(Type.Number({ description: 'forecast: the shared scaler mean (e.g. typical MW)' })),
    scaleStd: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'forecast: the shared scaler standard deviation' })),
  },
  { additionalProperties: false },
);
export type StartFederatedJobRequest = Static<typeof StartFederatedJobRequest>;

/** The job's settings with every default filled in (what the coordinator and the clients use). */
export const FederatedJobConfig = Type.Object({
  rounds: Type.Integer(),
  strategy: literals(FEDERATED_STRATEGIES),
  nodeSelector: Labels,
  fractionFit: Type.Number(),
  minFitClients: Type.Integer(),
  quorum: Type.Number(),
  roundTimeoutSeconds: Type.Number(),
  maxRoundFailures: Type.Integer(),
  localEpochs: Type.Integer(),
  batchSize: Type.Integer(),
  learningRate: Type.Number(),
  proximalMu: Type.Number(),
  serverLearningRate: Type.Number(),
  encoding: literals(UPDATE_ENCODING_NAMES),
  maxUpdateNorm: Type.Number(),
  clipNorm: Nullable(Type.Number()),
  hidden: Type.Array(Type.Integer()),
  seed: Type.Integer(),
  evaluationDataset: Type.Optional(Nullable(Type.Object({ name: Type.String(), version: Type.Integer() }))),
  scaleMean: Nullable(Type.Number()),
  scaleStd: Nullable(Type.Number()),
});
export type FederatedJobConfig = Static<typeof FederatedJobConfig>;

export const RoundClient = Type.Object({ nodeId: Type.String(), nodeName: Type.String() });
export type RoundClient = Static<typeof RoundClient>;

export const RoundReport = Type.Object({
  nodeId: Type.String(),
  nodeName: Type.String(),
  status: literals(['accepted', 'rejected', 'late'] as const),
  reason: Nullable(Type.String()),
  examples: Type.Integer(),
  bytes: Type.Integer(),
  metrics: Type.Record(Type.String(), Type.Unknown()),
  receivedAt: IsoTime,
});
export type RoundReport = Static<typeof RoundReport>;

export const RoundMetrics = Type.Object({
  participants: Type.Integer(),
  examples: Type.Integer(),
  /** The global model the clients received, on their own held-out data (weighted by its size). */
  evalLoss: Nullable(Type.Number()),
  evalAccuracy: Nullable(Type.Number()),
  trainLoss: Nullable(Type.Number()),
  updateNorm: Nullable(Type.Number()),
  /** The round's new global model on the central test set (evaluationDataset), when the job has one. */
  serverLoss: Type.Optional(Nullable(Type.Number())),
  serverAccuracy: Type.Optional(Nullable(Type.Number())),
});
export type RoundMetrics = Static<typeof RoundMetrics>;

export const FederatedRoundView = Type.Object({
  round: Type.Integer(),
  attempt: Type.Integer(),
  status: literals(ROUND_STATUSES),
  sampled: Type.Array(RoundClient),
  reports: Type.Array(RoundReport),
  /** Sampled clients with no accepted update when the round closed. */
  dropped: Type.Array(RoundClient),
  metrics: Nullable(RoundMetrics),
  reason: Nullable(Type.String()),
  startedAt: IsoTime,
  deadlineAt: IsoTime,
  finishedAt: Nullable(IsoTime),
});
export type FederatedRoundView = Static<typeof FederatedRoundView>;

export const FederatedJobView = Type.Object({
  id: Type.String(),
  model: Type.String(),
  datasetKind: literals(FEDERATED_DATASET_KINDS),
  status: literals(FEDERATED_JOB_STATUSES),
  config: FederatedJobConfig,
  roundsCompleted: Type.Integer(),
  /** What the job is doing now, e.g. "round 3: 2 of 4 clients reported" or "waiting for 2 clients". */
  phase: Type.String(),
  error: Nullable(Type.String()),
  registeredVersion: Nullable(Type.Integer()),
  rounds: Type.Optional(Type.Array(FederatedRoundView)),
  createdAt: IsoTime,
  updatedAt: IsoTime,
  finishedAt: Nullable(IsoTime),
  createdBy: Nullable(Type.String()),
});
export type FederatedJobView = Static<typeof FederatedJobView>;

export const FederatedJobList = Type.Object({ jobs: Type.Array(FederatedJobView) });
export type FederatedJobList = Static<typeof FederatedJobList>;

export const FederatedJobListQuery = Type.Object(
  {
    status: Type.Optional(literals(FEDERATED_JOB_STATUSES)),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  },
  { additionalProperties: false },
);
export type FederatedJobListQuery = Static<typeof FederatedJobListQuery>;

/** What a sampled client is asked to do: train on its own data from the round's global weights. */
export const FederatedTask = Type.Object({
  jobId: Type.String(),
  round: Type.Integer(),
  attempt: Type.Integer(),
  datasetKind: literals(FEDERATED_DATASET_KINDS),
  /** The shared architecture and preprocessing (FederatedModelSpec of the ML library). */
  modelSpec: Type.Record(Type.String(), Type.Unknown()),
  params: Type.Object({
    localEpochs: Type.Integer(),
    batchSize: Type.Integer(),
    learningRate: Type.Number(),
    proximalMu: Type.Number(),
    seed: Type.Integer(),
  }),
  encoding: literals(UPDATE_ENCODING_NAMES),
  deadlineAt: IsoTime,
  weightsPath: Type.String(),
  updatePath: Type.String(),
});
export type FederatedTask = Static<typeof FederatedTask>;

export const FederatedTaskList = Type.Object({ tasks: Type.Array(FederatedTask) });
export type FederatedTaskList = Static<typeof FederatedTaskList>;

export const FederatedTaskQuery = Type.Object(
  {
    wait: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 60, default: 0, description: 'Seconds to hold the request open until a task comes' }),
    ),
    kinds: Type.Optional(
      Type.String({
        pattern: '^(digits|forecast)(,(digits|forecast))*$',
        description: 'The data kinds this node holds (comma list): it is sampled only for jobs of those kinds',
      }),
    ),
  },
  { additionalProperties: false },
);

export const FederatedNodeJobParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 253, description: 'The node id' }),
  jobId: Type.String({ minLength: 1, maxLength: 64 }),
});
export const FederatedUpdateQuery = Type.Object(
  { round: Type.Integer({ minimum: 1 }), attempt: Type.Integer({ minimum: 1 }) },
  { additionalProperties: false },
);

export const FederatedUpdateReceipt = Type.Object({
  status: literals(['accepted', 'late'] as const),
  round: Type.Integer(),
  bytes: Type.Integer(),
});
export type FederatedUpdateReceipt = Static<typeof FederatedUpdateReceipt>;
