import { type Static, Type } from '@sinclair/typebox';
import { IsoTime, Nullable } from './common.js';

export const AuditEvent = Type.Object(
  {
    id: Type.Integer(),
    at: IsoTime,
    actor: Type.Object({ id: Nullable(Type.String()), name: Type.String(), role: Type.String() }),
    action: Type.String({ description: 'Method and route, e.g. "POST /api/v1/tokens"' }),
    target: Nullable(Type.String()),
    statusCode: Type.Integer(),
  },
  {},
);
export type AuditEvent = Static<typeof AuditEvent>;

export const AuditQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    before: Type.Optional(Type.Integer({ minimum: 1, description: 'Only events with a smaller id (paging)' })),
  },
  { additionalProperties: false },
);
export type AuditQuery = Static<typeof AuditQuery>;

export const AuditList = Type.Object({ events: Type.Array(AuditEvent) }, {});
export type AuditList = Static<typeof AuditList>;
