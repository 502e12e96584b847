import { type Static, Type } from '@sinclair/typebox';
import { IsoTime, Nullable, VersionNumber } from './common.js';
import { ModelName } from './models.js';

export const DRIFT_TESTS = ['auto', 'psi', 'wasserstein', 'ks', 'error'] as const;
export type DriftTest = (typeof DRIFT_TESTS)[number];
export const DRIFT_ACTIONS = ['alert', 'retrain', 'retrain-and-promote'] as const;
export type DriftAction = (typeof DRIFT_ACTIONS)[number];
/** What started a round: a node's drift, a person (`fogline drift retrain`), or the policy's schedule. */
export const DRIFT_TRIGGERS = ['drift', 'manual', 'schedule'] as const;
export type DriftTrigger = (typeof DRIFT_TRIGGERS)[number];
/** Why a row of a sample upload was refused (src/drift/sample-bounds.ts). */
export const SAMPLE_REFUSAL_REASONS = [
  'time-not-after-dataset',
  'time-in-future',
  'value-not-finite',
  'value-out-of-band',
  'too-many-gaps',
] as const;
export type SampleRefusalReason = (typeof SAMPLE_REFUSAL_REASONS)[number];
export const DRIFT_EVENT_STATUSES = ['alerted', 'collecting', 'retraining', 'canary', 'promoted', 'kept', 'rolled-back', 'failed'] as const;
export type DriftEventStatus = (typeof DRIFT_EVENT_STATUSES)[number];

const TestSchema = Type.Union([
  Type.Literal('auto'),
  Type.Literal('psi'),
  Type.Literal('wasserstein'),
  Type.Literal('ks'),
  Type.Literal('error'),
]);
const ActionSchema = Type.Union([Type.Literal('alert'), Type.Literal('retrain'), Type.Literal('retrain-and-promote')], {
  description:
    'alert: record the event; retrain: also retrain and evaluate a challenger; retrain-and-promote: also promote it when it wins',
});
const StatusSchema = Type.Union(
  DRIFT_EVENT_STATUSES.map((s) => Type.Literal(s)),
  {
    description:
      "alerted (action alert); collecting (waiting for the drifted node's samples); retraining; canary (the challenger on the drifted nodes first); promoted; kept (the champion stays); rolled-back (the canary failed: the champion stays); failed",
  },
);

export const DeploymentParams = Type.Object({ deployment: ModelName });

/** The settings of a drift policy; every field has a default (the values here). */
export const DRIFT_POLICY_DEFAULTS = {
  tests: ['auto'] as DriftTest[],
  psiThreshold: 0.1,
  wassersteinThreshold: 0.1,
  ksPValue: 0.05,
  errorFactor: 2,
  errorBaselineFactor: 1.5,
  errorWindowHours: 48,
  windowHours: 168,
  minSamples: 100,
  cooldownSeconds: 6 * 3600,
  action: 'alert' as DriftAction,
  promotionMargin: 0.05,
  reportIntervalSeconds: 60,
  sampleUpload: false,
  warmStart: true,
  retrainEverySeconds: 0,
};

/** At most this many samples in one upload, and kept per deployment on a node until uploaded. */
export const MAX_DRIFT_SAMPLES = 5000;

export const SetDriftPolicyRequest = Type.Object(
  {
    tests: Type.Optional(
      Type.Array(TestSchema, {
        minItems: 1,
        maxItems: 5,
        uniqueItems: true,
        description:
          "auto: forecast error for forecasters, and for other models KS on inputs whose reference holds at most 1,000 values, normalised Wasserstein otherwise (Evidently's rule); or any of psi, wasserstein, ks (numeric inputs) and error (forecasters)",
      }),
    ),
    psiThreshold: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 100, description: 'PSI above this is drift (default 0.1)' })),
    wassersteinThreshold: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        maximum: 100,
        description: 'Wasserstein distance / reference std above this is drift (default 0.1)',
      }),
    ),
    ksPValue: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1, description: 'KS p-value below this is drift (default 0.05)' })),
    errorFactor: Type.Optional(
      Type.Number({
        minimum: 1,
        maximum: 100,
        description: 'error: rolling MAPE above this times the validation MAPE is drift (default 2)',
      }),
    ),
    errorBaselineFactor: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 100,
        description:
          'error: the rolling MAPE must also be above this times the seasonal-naive ("same time yesterday") MAPE on the same hours, so a hard week that fools every forecaster is not drift; 0 turns the condition off (default 1.5)',
      }),
    ),
    errorWindowHours: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 720, description: 'error: hours of data time in the rolling MAPE (default 48)' }),
    ),
    windowHours: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 720, description: 'Hours of data time in the input window (default 168)' }),
    ),
    minSamples: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 10_000_000,
        description: 'Fewer values (or scored forecasts) than this: no verdict (default 100)',
      }),
    ),
    cooldownSeconds: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 90 * 86_400, description: 'No new event for this long after one (default 6 h)' }),
    ),
    action: Type.Optional(ActionSchema),
    promotionMargin: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 0.99,
        description: "retrain-and-promote: the challenger's MAPE must be lower than the champion's by this share (default 0.05)",
      }),
    ),
    reportIntervalSeconds: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 86_400, description: 'How often agents report (default 60)' }),
    ),
    dataset: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: "Dataset to retrain on (latest version); default: the champion's" }),
    ),
    sampleUpload: Type.Optional(
      Type.Boolean({
        description:
          'Consent to sample collection: nodes keep the actual values posted to them and upload the ones newer than the dataset, which become its next version (default false: no raw value leaves a node)',
      }),
    ),
    warmStart: Type.Optional(
      Type.Boolean({
        description:
          "Retraining starts from the champion's weights (warmStartFrom; fewer epochs) instead of a random initialisation (default true)",
      }),
    ),
    retrainEverySeconds: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 365 * 86_400,
        description:
          "Also start a retraining round when none has started for this long (seconds; 0, the default: only on drift or by hand). The round uses the policy's action (alert counts as retrain)",
      }),
    ),
  },
  { additionalProperties: false },
);
export type SetDriftPolicyRequest = Static<typeof SetDriftPolicyRequest>;

export const DriftPolicyView = Type.Object({
  deployment: Type.String(),
  tests: Type.Array(Type.String()),
  psiThreshold: Type.Number(),
  wassersteinThreshold: Type.Number(),
  ksPValue: Type.Number(),
  errorFactor: Type.Number(),
  errorBaselineFactor: Type.Number(),
  errorWindowHours: Type.Integer(),
  windowHours: Type.Integer(),
  minSamples: Type.Integer(),
  cooldownSeconds: Type.Integer(),
  action: ActionSchema,
  promotionMargin: Type.Number(),
  reportIntervalSeconds: Type.Integer(),
  dataset: Nullable(Type.String()),
  sampleUpload: Type.Boolean(),
  warmStart: Type.Boolean(),
  retrainEverySeconds: Type.Integer(),
  createdAt: IsoTime,
  updatedAt: IsoTime,
  updatedBy: Nullable(Type.String()),
});
export type DriftPolicyView = Static<typeof DriftPolicyView>;
export const DriftPolicyList = Type.Object({ policies: Type.Array(DriftPolicyView) });

/** One feature's window at the edge beside the training reference (aggregates only). */
export const FeatureDrift = Type.Object({
  name: Type.String({ maxLength: 200 }),
  source: Type.Union([Type.Literal('input'), Type.Literal('output')]),
  count: Type.Number({ minimum: 0 }),
  mean: Type.Number(),
  std: Type.Number(),
  min: Type.Number(),
  max: Type.Number(),
  referenceCount: Type.Number({ minimum: 0 }),
  psi: Nullable(Type.Number()),
  wasserstein: Nullable(Type.Number()),
  ksStatistic: Nullable(Type.Number()),
  ksPValue: Nullable(Type.Number()),
  counts: Type.Array(Type.Number({ minimum: 0 }), { maxItems: 1026 }),
});

export const DriftSummary = Type.Object({
  kind: Type.String({ maxLength: 64 }),
  hasReference: Type.Boolean(),
  windowHours: Type.Integer({ minimum: 1 }),
  from: Nullable(Type.String({ maxLength: 40 })),
  to: Nullable(Type.String({ maxLength: 40 })),
  rows: Type.Number({ minimum: 0 }),
  features: Type.Array(FeatureDrift, { maxItems: 64 }),
  error: Nullable(
    Type.Object({
      windowHours: Type.Integer({ minimum: 1 }),
      count: Type.Number({ minimum: 0 }),
      mape: Type.Number({ minimum: 0 }),
      /** Seasonal-naive ("same time yesterday") MAPE on the same hours; absent from agents before it. */
      baselineMape: Type.Optional(Nullable(Type.Number({ minimum: 0 }))),
      validationMape: Nullable(Type.Number()),
      pending: Type.Number({ minimum: 0 }),
      unmatched: Type.Number({ minimum: 0 }),
    }),
  ),
});
export type DriftSummary = Static<typeof DriftSummary>;

export const DriftReport = Type.Object({
  deployment: Type.String({ minLength: 1, maxLength: 200 }),
  model: Type.String({ maxLength: 200 }),
  version: VersionNumber(),
  sha256: Type.String({ maxLength: 64 }),
  summary: DriftSummary,
});
export type DriftReport = Static<typeof DriftReport>;

export const DriftReportBatch = Type.Object({ reports: Type.Array(DriftReport, { maxItems: 256 }) }, { additionalProperties: false });
export type DriftReportBatch = Static<typeof DriftReportBatch>;

/** The control plane's answer to a report: when to report next, and each deployment's windows. */
export const DriftReportReceipt = Type.Object({
  reportIntervalSeconds: Type.Integer(),
  deployments: Type.Record(
    Type.String(),
    Type.Object({
      windowHours: Type.Integer(),
      errorWindowHours: Type.Integer(),
      /** The policy consents to sample upload. */
      sampleUpload: Type.Optional(Type.Boolean()),
      /** Unix seconds of the newest row of the dataset samples go to: send only newer ones (null: all). */
      samplesAfter: Type.Optional(Nullable(Type.Number())),
    }),
  ),
});
export type DriftReportReceipt = Static<typeof DriftReportReceipt>;

/** Observed values a node uploads with the policy's consent: `time` in Unix seconds. */
export const DriftSampleBatch = Type.Object(
  {
    deployment: Type.String({ minLength: 1, maxLength: 200 }),
    samples: Type.Array(Type.Object({ time: Type.Integer(), value: Type.Number() }, { additionalProperties: false }), {
      minItems: 1,
      maxItems: MAX_DRIFT_SAMPLES,
    }),
  },
  { additionalProperties: false },
);
export type DriftSampleBatch = Static<typeof DriftSampleBatch>;

export const DriftSampleReceipt = Type.Object({
  /** Samples newer than the dataset's last row, appended (duplicates by time counted once). */
  accepted: Type.Integer(),
  /** Samples whose time a later row of the batch repeats. */
  skipped: Type.Integer(),
  dataset: Type.String(),
  /** The version that holds them (the latest one when nothing was new). */
  datasetVersion: Type.Integer(),
  /** Unix seconds of the dataset's newest row now. */
  samplesAfter: Nullable(Type.Number()),
});
export type DriftSampleReceipt = Static<typeof DriftSampleReceipt>;

/**
 * The `details` of a 400 FOGLINE_ERR_DRIFT_SAMPLES_INVALID: the rows refused (index in `samples`,
 * reason, sentence) beside the receipt of the rest, which were kept.
 */
export const DriftSampleRefusal = Type.Composite([
  DriftSampleReceipt,
  Type.Object({
    refused: Type.Array(
      Type.Object({
        row: Type.Integer({ description: "Index in the batch's samples" }),
        reason: Type.Union(SAMPLE_REFUSAL_REASONS.map((r) => Type.Literal(r))),
        message: Type.String(),
      }),
    ),
  }),
]);
export type DriftSampleRefusal = Static<typeof DriftSampleRefusal>;

export const DriftReportView = Type.Object({
  deployment: Type.String(),
  nodeId: Type.String(),
  nodeName: Nullable(Type.String()),
  model: Type.String(),
  version: Type.Integer(),
  receivedAt: IsoTime,
  summary: DriftSummary,
});
export type DriftReportView = Static<typeof DriftReportView>;
export const DriftReportList = Type.Object({ reports: Type.Array(DriftReportView) });
export const DriftReportQuery = Type.Object(
  { deployment: Type.Optional(Type.String({ maxLength: 200 })) },
  { additionalProperties: false },
);

/** Why an event fired: a test, the feature it ran on, its value and the threshold it crossed. */
export const DriftFinding = Type.Object({
  test: Type.String(),
  feature: Type.String(),
  value: Type.Number(),
  threshold: Type.Number(),
  samples: Type.Number(),
});
export type DriftFinding = Static<typeof DriftFinding>;

export const DriftEvaluation = Type.Object({
  windows: Type.Integer(),
  from: IsoTime,
  to: IsoTime,
  championVersion: Type.Integer(),
  challengerVersion: Type.Integer(),
  championMape: Type.Number(),
  challengerMape: Type.Number(),
  improvement: Type.Number(),
  margin: Type.Number(),
  wins: Type.Boolean(),
});
export type DriftEvaluation = Static<typeof DriftEvaluation>;

export const DriftTimelineEntry = Type.Object({ at: IsoTime, status: Type.String(), message: Type.String() });
export type DriftTimelineEntry = Static<typeof DriftTimelineEntry>;

export const DriftEventView = Type.Object({
  id: Type.String(),
  deployment: Type.String(),
  trigger: Type.Union(DRIFT_TRIGGERS.map((t) => Type.Literal(t))),
  nodeId: Nullable(Type.String()),
  nodeName: Nullable(Type.String()),
  model: Type.String(),
  version: Type.Integer(),
  findings: Type.Array(DriftFinding),
  action: ActionSchema,
  status: StatusSchema,
  runId: Nullable(Type.String()),
  challengerVersion: Nullable(Type.Integer()),
  evaluation: Nullable(DriftEvaluation),
  timeline: Type.Array(DriftTimelineEntry),
  createdAt: IsoTime,
  updatedAt: IsoTime,
});
export type DriftEventView = Static<typeof DriftEventView>;
export const DriftEventList = Type.Object({ events: Type.Array(DriftEventView) });
export const DriftEventQuery = Type.Object(
  {
    deployment: Type.Optional(Type.String({ maxLength: 200 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  },
  { additionalProperties: false },
);

export const RetrainRequest = Type.Object(
  { action: Type.Optional(ActionSchema) },
  { additionalProperties: false, description: "Starts a retraining round now (trigger 'manual'); action defaults to the policy's" },
);
