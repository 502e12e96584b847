import { type Static, Type } from '@sinclair/typebox';
import { IsoTime } from './common.js';
import type { RunView } from './runs.js';

/** One heartbeat's resources as the dashboard charts them. */
export const ResourceSample = Type.Object({
  /** Unix time, seconds. */
  t: Type.Number(),
  /** 1-minute load average. */
  load1: Type.Number(),
  cpuCount: Type.Integer(),
  memoryUsedBytes: Type.Number(),
  memoryTotalBytes: Type.Number(),
});
export type ResourceSample = Static<typeof ResourceSample>;

export const ResourceHistoryView = Type.Object({
  nodeId: Type.String(),
  /** Samples are kept at least this far apart, for at most `windowSeconds`. */
  minSpacingSeconds: Type.Number(),
  windowSeconds: Type.Number(),
  samples: Type.Array(ResourceSample),
});
export type ResourceHistoryView = Static<typeof ResourceHistoryView>;

export const SeriesQuery = Type.Object(
  {
    version: Type.Optional(Type.Integer({ minimum: 1 })),
    last: Type.Optional(Type.Integer({ minimum: 1, maximum: 24 * 60, default: 24 * 14, description: 'How many points, from the end' })),
  },
  { additionalProperties: false },
);
export type SeriesQuery = Static<typeof SeriesQuery>;

/** The tail of a time-series dataset, as the regular series that pipelines train on. */
export const SeriesView = Type.Object({
  name: Type.String(),
  version: Type.Integer(),
  /** Unix time (s) of values[0]. */
  start: Type.Number(),
  intervalSeconds: Type.Number(),
  values: Type.Array(Type.Number()),
  timeEnd: IsoTime,
});
export type SeriesView = Static<typeof SeriesView>;

/** One heartbeat as the event stream carries it. */
export interface HeartbeatEventSample extends ResourceSample {
  nodeId: string;
}

/**
 * What `GET /api/v1/events` sends (Server-Sent Events; `event:` is the key, `data:` the JSON value).
 * Events say what changed; the dashboard reads the details from the REST API.
 */
export interface LiveEventMap {
  /** First event on every connection: refetch everything. */
  hello: { serverTime: string };
  /** Something changed through the API (deployment, alias, labels, a registered version). */
  change: { generation: number };
  /** Nodes reported deployment state (rollouts progress). */
  deployments: { at: string };
  /** Heartbeats since the last event (at most one per node). */
  heartbeats: { samples: HeartbeatEventSample[] };
  /** A queued or running run changed (step, epoch, loss) or just finished. */
  run: { run: RunView };
}
export type LiveEventName = keyof LiveEventMap;
