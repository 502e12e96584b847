import { type Static, Type } from '@sinclair/typebox';
import { IsoTime, Nullable } from './common.js';
import { ModelName } from './models.js';

export const PIPELINE_NAMES = ['forecast', 'anomaly', 'image-classifier'] as const;
export type PipelineName = (typeof PIPELINE_NAMES)[number];
export const STEP_NAMES = ['prepare', 'train', 'evaluate', 'register'] as const;
export type StepName = (typeof STEP_NAMES)[number];
export const RUN_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const STEP_STATUSES = ['pending', 'running', 'succeeded', 'cached', 'skipped', 'failed', 'canceled'] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

export const StartRunRequest = Type.Object(
  {
    pipeline: Type.Union(PIPELINE_NAMES.map((name) => Type.Literal(name))),
    dataset: Type.String({ minLength: 1, maxLength: 220, description: 'name or name@version (default: the latest version)' }),
    params: Type.Optional(Type.Record(Type.String({ maxLength: 64 }), Type.Unknown(), { maxProperties: 64 })),
    model: Type.Optional(ModelName),
    gate: Type.Optional(
      Type.Union([Type.Literal('beat-baseline'), Type.Literal('none')], {
        default: 'beat-baseline',
        description: 'beat-baseline: register only a model that beats the baseline on the test split; none: register whatever the metrics',
      }),
    ),
  },
  { additionalProperties: false },
);
export type StartRunRequest = Static<typeof StartRunRequest>;

export const StepView = Type.Object({
  name: Type.Union(STEP_NAMES.map((name) => Type.Literal(name))),
  status: Type.Union(STEP_STATUSES.map((status) => Type.Literal(status))),
  startedAt: Nullable(IsoTime),
  finishedAt: Nullable(IsoTime),
  durationMs: Nullable(Type.Number()),
  cacheKey: Nullable(Type.String()),
  summary: Nullable(Type.Record(Type.String(), Type.Unknown())),
  error: Nullable(Type.String()),
});
export type StepView = Static<typeof StepView>;

export const RunProgress = Type.Object({
  step: Type.String(),
  message: Type.Optional(Type.String()),
  epoch: Type.Optional(Type.Integer()),
  epochs: Type.Optional(Type.Integer()),
  loss: Type.Optional(Type.Number()),
  valLoss: Type.Optional(Type.Number()),
  elapsedMs: Type.Optional(Type.Number()),
  etaMs: Type.Optional(Type.Number()),
});
export type RunProgress = Static<typeof RunProgress>;

export const RunView = Type.Object({
  id: Type.String(),
  pipeline: Type.String(),
  dataset: Type.Object({ name: Type.String(), version: Type.Integer() }),
  model: Type.String(),
  params: Type.Record(Type.String(), Type.Unknown()),
  gate: Type.Union([Type.Literal('beat-baseline'), Type.Literal('none')]),
  status: Type.Union(RUN_STATUSES.map((status) => Type.Literal(status))),
  error: Nullable(Type.String()),
  steps: Type.Array(StepView),
  progress: Nullable(RunProgress),
  result: Nullable(Type.Record(Type.String(), Type.Unknown())),
  registeredVersion: Nullable(Type.Integer()),
  createdAt: IsoTime,
  startedAt: Nullable(IsoTime),
  finishedAt: Nullable(IsoTime),
  createdBy: Nullable(Type.String()),
  attempt: Type.Integer({ description: '0 until a worker takes the run; more than 1 after a worker was lost and another took over' }),
  worker: Nullable(Type.String({ description: 'The worker that runs (or ran) it' })),
});
export type RunView = Static<typeof RunView>;

export const WorkQueueStats = Type.Object({
  kind: Type.Union([Type.Literal('in-process'), Type.Literal('redis')]),
  waiting: Type.Integer(),
  active: Type.Integer(),
  delayed: Type.Integer({
    description: 'Waiting for a retry time (a pipeline at its concurrency limit, a run another worker still holds)',
  }),
  oldestWaitingSeconds: Type.Number(),
});
export type WorkQueueStats = Static<typeof WorkQueueStats>;

export const RunList = Type.Object({ runs: Type.Array(RunView), queue: Type.Optional(WorkQueueStats) });
export type RunList = Static<typeof RunList>;

export const RunListQuery = Type.Object(
  {
    status: Type.Optional(Type.Union(RUN_STATUSES.map((status) => Type.Literal(status)))),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  },
  { additionalProperties: false },
);
export type RunListQuery = Static<typeof RunListQuery>;

export const RunEvent = Type.Object({
  id: Type.Integer(),
  at: IsoTime,
  step: Type.String(),
  kind: Type.Union([Type.Literal('log'), Type.Literal('epoch')]),
  payload: Type.Record(Type.String(), Type.Unknown()),
});
export type RunEvent = Static<typeof RunEvent>;

export const RunEventsQuery = Type.Object(
  { after: Type.Optional(Type.Integer({ minimum: 0, description: 'Only events with a larger id' })) },
  { additionalProperties: false },
);
export const RunEventList = Type.Object({ events: Type.Array(RunEvent) });
export type RunEventList = Static<typeof RunEventList>;

export const PipelineParamView = Type.Object({
  name: Type.String(),
  type: Type.String(),
  default: Type.Unknown(),
  description: Type.String(),
  min: Type.Optional(Type.Number()),
  max: Type.Optional(Type.Number()),
  values: Type.Optional(Type.Array(Type.String())),
});

export const PipelineView = Type.Object({
  name: Type.String(),
  description: Type.String(),
  datasetKind: Type.String(),
  modelKind: Type.String(),
  params: Type.Array(PipelineParamView),
});
export type PipelineView = Static<typeof PipelineView>;
export const PipelineList = Type.Object({ pipelines: Type.Array(PipelineView) });
export type PipelineList = Static<typeof PipelineList>;

// What `fogline worker` and the control plane say to each other about a run it took from the queue.

export const RunClaimRequest = Type.Object(
  { worker: Type.String({ minLength: 1, maxLength: 200, description: 'Who takes the run: host name and process id' }) },
  { additionalProperties: false },
);
export type RunClaimRequest = Static<typeof RunClaimRequest>;

export const ClaimedRun = Type.Object({
  outcome: Type.Literal('claimed'),
  attempt: Type.Integer({ minimum: 1 }),
  pipeline: Type.Union(PIPELINE_NAMES.map((name) => Type.Literal(name))),
  model: Type.String(),
  params: Type.Record(Type.String(), Type.Unknown()),
  dataset: Type.Object({
    name: Type.String(),
    version: Type.Integer(),
    sha256: Type.String(),
    read: Type.Record(Type.String(), Type.Unknown(), { description: 'How the file is read (kind, columns, image size)' }),
  }),
  warmStart: Type.Optional(Type.Object({ model: Type.String(), version: Type.Integer(), sha256: Type.String() })),
});
export type ClaimedRun = Static<typeof ClaimedRun>;

export const RunClaim = Type.Union([
  ClaimedRun,
  Type.Object({ outcome: Type.Literal('finished'), status: Type.String() }),
  Type.Object({
    outcome: Type.Literal('retry'),
    retryAfterMs: Type.Integer({ minimum: 0 }),
    reason: Type.String({ description: 'Another worker still reports on it, or its pipeline is at its concurrency limit' }),
  }),
]);
export type RunClaim = Static<typeof RunClaim>;

const StepNameSchema = Type.Union(STEP_NAMES.map((name) => Type.Literal(name)));
const Summary = Type.Record(Type.String({ maxLength: 64 }), Type.Unknown(), { maxProperties: 64 });

/** One report from the worker running a run: every few seconds at least (a ping), so that a lost worker shows. */
export const RunReport = Type.Union([
  Type.Object({ type: Type.Literal('ping') }, { additionalProperties: false }),
  Type.Object(
    {
      type: Type.Literal('step'),
      step: StepNameSchema,
      status: Type.Union([Type.Literal('running'), Type.Literal('succeeded'), Type.Literal('cached')]),
      cacheKey: Type.Optional(Type.String({ maxLength: 128 })),
      summary: Type.Optional(Summary),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      type: Type.Literal('progress'),
      step: StepNameSchema,
      progress: Type.Union([
        Type.Object({
          phase: Type.Union([Type.Literal('prepare'), Type.Literal('evaluate'), Type.Literal('package')]),
          message: Type.String({ maxLength: 4000 }),
        }),
        Type.Object({
          phase: Type.Literal('train'),
          epoch: Type.Integer(),
          epochs: Type.Integer(),
          loss: Type.Number(),
          valLoss: Type.Number(),
          bestEpoch: Type.Integer(),
          elapsedMs: Type.Number(),
          etaMs: Type.Number(),
        }),
      ]),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    { type: Type.Literal('log'), step: StepNameSchema, message: Type.String({ maxLength: 4000 }) },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      type: Type.Literal('failed'),
      step: StepNameSchema,
      message: Type.String({ maxLength: 4000 }),
      problem: Type.Optional(Type.String({ maxLength: 200 })),
      canceled: Type.Boolean(),
    },
    { additionalProperties: false },
  ),
]);
export type RunReport = Static<typeof RunReport>;

export const RunReportAnswer = Type.Object({ canceled: Type.Boolean({ description: 'Stop the run: someone canceled it' }) });
export type RunReportAnswer = Static<typeof RunReportAnswer>;

export const RunAttemptParams = Type.Object({ id: Type.String({ maxLength: 64 }), attempt: Type.Integer({ minimum: 1 }) });

/** The steps' outcome and the evaluated bundle, ready for the register step (which runs on the control plane). */
export const RunCompletion = Type.Object(
  {
    bundleBase64: Type.String({ description: 'The evaluated bundle (.fgl), base64' }),
    kind: Type.String({ maxLength: 64 }),
    ioSignature: Type.Object({
      inputs: Type.Array(Type.Object({ name: Type.String(), datatype: Type.String(), shape: Type.Array(Type.Integer()) })),
      outputs: Type.Array(Type.Object({ name: Type.String(), datatype: Type.String(), shape: Type.Array(Type.Integer()) })),
    }),
    metrics: Type.Record(Type.String(), Type.Unknown()),
    gate: Type.Object({
      passed: Type.Boolean(),
      metric: Type.String(),
      model: Type.Number(),
      baseline: Type.Number(),
      baselineName: Type.String(),
      rule: Type.String(),
    }),
    params: Type.Record(Type.String(), Type.Unknown()),
    codeVersion: Type.String({ maxLength: 100, description: "The worker's Fogline version: it goes into the version's lineage" }),
  },
  { additionalProperties: false },
);
export type RunCompletion = Static<typeof RunCompletion>;
