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
});
export type RunView = Static<typeof RunView>;

export const RunList = Type.Object({ runs: Type.Array(RunView) });
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
