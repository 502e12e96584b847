import { type Static, Type } from '@sinclair/typebox';
import { IsoTime, Labels, Nullable } from './common.js';

export const SESSION_KINDS = ['scalar', 'image'] as const;
export type SessionKind = (typeof SESSION_KINDS)[number];
export const SESSION_STATES = ['pending', 'connected', 'closed'] as const;
export type SessionState = (typeof SESSION_STATES)[number];

export const OpenSessionRequest = Type.Object(
  {
    model: Type.String({ minLength: 1, maxLength: 200, description: 'The deployment to stream to' }),
    kind: Type.Union(
      SESSION_KINDS.map((k) => Type.Literal(k)),
      { description: 'scalar: time-series windows (forecasters, anomaly detectors); image: images (image classifiers)' },
    ),
    nodeSelector: Type.Optional({ ...Labels, description: 'Only nodes with these labels (locality); the cloud when none can take it' }),
  },
  { additionalProperties: false },
);
export type OpenSessionRequest = Static<typeof OpenSessionRequest>;

export const SessionView = Type.Object({
  id: Type.String(),
  model: Type.String({ description: 'The deployment' }),
  kind: Type.Union(SESSION_KINDS.map((k) => Type.Literal(k))),
  placement: Type.Union([Type.Literal('edge'), Type.Literal('cloud')]),
  nodeId: Nullable(Type.String()),
  nodeName: Nullable(Type.String()),
  state: Type.Union(SESSION_STATES.map((s) => Type.Literal(s))),
  /** Why the session was placed where it was. */
  reason: Type.String(),
  createdAt: IsoTime,
  connectedAt: Nullable(IsoTime),
  closedAt: Nullable(IsoTime),
  closeReason: Nullable(Type.String()),
});
export type SessionView = Static<typeof SessionView>;

export const OpenSessionResponse = Type.Object({
  session: SessionView,
  url: Type.String({ description: 'The WebSocket URL: send V2 infer requests as text messages, one answer each, in order' }),
  token: Type.String({ description: 'Pass as ?session=<token> on the URL (it is appended already); valid for connectSeconds' }),
  connectSeconds: Type.Integer(),
  idleSeconds: Type.Integer({ description: 'The socket is closed after this long without a message' }),
});
export type OpenSessionResponse = Static<typeof OpenSessionResponse>;

export const SessionList = Type.Object({ sessions: Type.Array(SessionView) });
export type SessionList = Static<typeof SessionList>;

export const SessionParams = Type.Object({ sessionId: Type.String({ minLength: 1, maxLength: 64 }) });
export const NodeSessionParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 253 }),
  sessionId: Type.String({ minLength: 1, maxLength: 64 }),
});
export const SessionEventRequest = Type.Object(
  {
    event: Type.Union([Type.Literal('connected'), Type.Literal('closed')]),
    reason: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);
export type SessionEventRequest = Static<typeof SessionEventRequest>;
export const SessionListQuery = Type.Object(
  { all: Type.Optional(Type.Boolean({ default: false, description: 'Include recently closed sessions' })) },
  { additionalProperties: false },
);
