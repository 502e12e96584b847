import { type Static, Type } from '@sinclair/typebox';
import { NODE_ROLES } from './nodes.js';

/** The shortest node credential lifetime: long enough for a few heartbeats before it is renewed. */
export const MIN_CREDENTIAL_TTL_SECONDS = 30;
export const MAX_CREDENTIAL_TTL_SECONDS = 10 * 365 * 24 * 3600;

export const CredentialTtlSeconds = Type.Integer({
  minimum: MIN_CREDENTIAL_TTL_SECONDS,
  maximum: MAX_CREDENTIAL_TTL_SECONDS,
  description: 'Node credentials expire this long after they are issued; the agent gets a new one when half of it has passed',
});

/**
 * What a join token decides for the nodes that enrol with it, instead of the node. Every field is
 * optional: a join token without one lets the node choose, as before.
 */
export const JoinPolicy = Type.Object(
  {
    nodeRole: Type.Optional(
      Type.Union(
        NODE_ROLES.map((role) => Type.Literal(role)),
        { description: 'The role its nodes get; an agent asking for another is refused' },
      ),
    ),
    nodeLabels: Type.Optional(
      Type.Record(Type.String({ maxLength: 317 }), Type.String({ maxLength: 63 }), {
        maxProperties: 64,
        description: 'Labels its nodes get; an agent may ask for these (same values) and for what allowedLabels allows, nothing else',
      }),
    ),
    allowedLabels: Type.Optional(
      Type.Array(Type.String({ minLength: 2, maxLength: 400 }), {
        maxItems: 64,
        description: 'Labels an agent may ask for, as key=value patterns where * matches any run of characters (site=plant-*)',
      }),
    ),
    requireApproval: Type.Optional(
      Type.Boolean({ description: 'Its nodes wait as pending, with no work, until an operator approves them (fogline nodes approve)' }),
    ),
    credentialTtlSeconds: Type.Optional(CredentialTtlSeconds),
  },
  {
    additionalProperties: false,
    description: 'Join tokens only: what the nodes that enrol with it get and may ask for, decided by the token instead of the node',
  },
);
export type JoinPolicy = Static<typeof JoinPolicy>;

/** `POST /nodes/:id/rotate-credential`: optionally a new lifetime for the node's credentials from now on. */
export const RotateCredentialRequest = Type.Object(
  { credentialTtlSeconds: Type.Optional(CredentialTtlSeconds) },
  { additionalProperties: false },
);
export type RotateCredentialRequest = Static<typeof RotateCredentialRequest>;
