import { type Static, Type } from '@sinclair/typebox';
import { IsoTime, Nullable } from './common.js';
import { JoinPolicy } from './join-policy.js';
import { ModelName } from './models.js';
import { CREATABLE_ROLES, TOKEN_ROLES } from './roles.js';

export const CreateTokenRequest = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200, description: 'What the token is for' }),
    role: Type.Union(
      CREATABLE_ROLES.map((role) => Type.Literal(role)),
      { description: "viewer, operator, admin, join (enrols agents), or inference (agents' /v2 and /metrics, checked on the agent)" },
    ),
    expiresInSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 10 * 365 * 24 * 3600 })),
    maxUses: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'Join tokens: enrolments allowed' })),
    deployments: Type.Optional(
      Type.Array(ModelName, {
        maxItems: 100,
        description: 'Inference tokens: the deployments whose /v2 routes it may call on the agents that serve them',
      }),
    ),
    metrics: Type.Optional(Type.Boolean({ description: "Inference tokens: may also read agents' GET /metrics (for Prometheus)" })),
    joinPolicy: Type.Optional(JoinPolicy),
  },
  { additionalProperties: false },
);
export type CreateTokenRequest = Static<typeof CreateTokenRequest>;

export const TokenInfo = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    role: Type.Union(TOKEN_ROLES.map((role) => Type.Literal(role))),
    nodeId: Nullable(Type.String()),
    expiresAt: Nullable(IsoTime),
    maxUses: Nullable(Type.Integer()),
    uses: Type.Integer(),
    revokedAt: Nullable(IsoTime),
    createdAt: IsoTime,
    createdBy: Nullable(Type.String()),
    deployments: Type.Optional(Type.Array(Type.String(), { description: 'Inference tokens: the deployments it covers' })),
    metrics: Type.Optional(Type.Boolean({ description: "Inference tokens: whether it may read agents' /metrics" })),
    joinPolicy: Type.Optional(JoinPolicy),
  },
  {},
);
export type TokenInfo = Static<typeof TokenInfo>;

export const CreateTokenResponse = Type.Object(
  {
    token: Type.String({ description: 'The secret token: shown once, store it now' }),
    info: TokenInfo,
  },
  {},
);
export type CreateTokenResponse = Static<typeof CreateTokenResponse>;

export const TokenList = Type.Object({ tokens: Type.Array(TokenInfo) }, {});
export type TokenList = Static<typeof TokenList>;

export const TokenListQuery = Type.Object(
  { all: Type.Optional(Type.Boolean({ description: 'Include revoked tokens and node credentials' })) },
  { additionalProperties: false },
);
export type TokenListQuery = Static<typeof TokenListQuery>;
