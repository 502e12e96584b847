import { type IntegerOptions, type Static, type TSchema, Type } from '@sinclair/typebox';

/** The body of every error the REST API returns. */
export const ErrorBody = Type.Object(
  {
    code: Type.String({ description: 'Stable error code, FOGLINE_ERR_<AREA>_<PROBLEM> (see docs/errors.md)' }),
    message: Type.String({ description: 'What went wrong and what to do next' }),
    details: Type.Optional(Type.Unknown()),
  },
  {},
);
export type ErrorBody = Static<typeof ErrorBody>;

/** Kubernetes label syntax; see nodes/labels.ts for the full rule, checked on every write. */
export const Labels = Type.Record(Type.String({ maxLength: 317 }), Type.String({ maxLength: 63 }), {
  maxProperties: 64,
  description: 'key=value labels (Kubernetes label syntax)',
});
export type Labels = Static<typeof Labels>;

export const IsoTime = Type.String({ format: 'date-time' });

/** A model version number as the database keeps it (a 32-bit integer column): larger ones are a 400, not a database error. */
export const MAX_VERSION = 2_147_483_647;
export const VersionNumber = (options: IntegerOptions = {}) => Type.Integer({ minimum: 1, maximum: MAX_VERSION, ...options });
/** A count as the database keeps it (a 64-bit column) and JavaScript holds it exactly: at most 2^53 - 1. */
export const Count = (options: IntegerOptions = {}) => Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, ...options });
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 253 }) });
export type IdParams = Static<typeof IdParams>;
