import { type Static, Type } from '@sinclair/typebox';

/**
 * The Open Inference Protocol (KServe "V2") request and response bodies, as the spec defines
 * them: tensors with a name, a shape, a datatype and data given flat or nested row-major.
 */
const Parameters = Type.Record(Type.String(), Type.Unknown());

export const V2InferInput = Type.Object({
  name: Type.String({ maxLength: 200 }),
  shape: Type.Array(Type.Integer({ minimum: 0 }), { maxItems: 16 }),
  datatype: Type.String({ maxLength: 16 }),
  parameters: Type.Optional(Parameters),
  data: Type.Array(Type.Unknown(), { description: 'Row-major values, flat or nested' }),
});
export type V2InferInput = Static<typeof V2InferInput>;

export const V2InferRequest = Type.Object({
  id: Type.Optional(Type.String({ maxLength: 200 })),
  parameters: Type.Optional(Parameters),
  inputs: Type.Array(V2InferInput, { minItems: 1, maxItems: 64 }),
  outputs: Type.Optional(
    Type.Array(Type.Object({ name: Type.String({ maxLength: 200 }), parameters: Type.Optional(Parameters) }), { maxItems: 64 }),
  ),
});
export type V2InferRequest = Static<typeof V2InferRequest>;

export const V2InferOutput = Type.Object({
  name: Type.String(),
  shape: Type.Array(Type.Integer()),
  datatype: Type.String(),
  parameters: Type.Optional(Parameters),
  data: Type.Array(Type.Unknown()),
});

export const V2InferResponse = Type.Object({
  model_name: Type.String(),
  model_version: Type.Optional(Type.String()),
  id: Type.Optional(Type.String()),
  parameters: Type.Optional(Parameters),
  outputs: Type.Array(V2InferOutput),
});
export type V2InferResponse = Static<typeof V2InferResponse>;

const V2TensorMetadata = Type.Object({ name: Type.String(), datatype: Type.String(), shape: Type.Array(Type.Integer()) });

export const V2ModelMetadata = Type.Object({
  name: Type.String(),
  versions: Type.Optional(Type.Array(Type.String())),
  platform: Type.String(),
  inputs: Type.Array(V2TensorMetadata),
  outputs: Type.Array(V2TensorMetadata),
});
export type V2ModelMetadata = Static<typeof V2ModelMetadata>;

/** Errors on the V2 routes use the protocol's own shape, not Fogline's {code, message}. */
export const V2Error = Type.Object({ error: Type.String() });
export type V2Error = Static<typeof V2Error>;

/** `GET /v2`: who serves, at which version, with which protocol extensions. */
export const V2ServerMetadata = Type.Object({
  name: Type.String(),
  version: Type.String(),
  extensions: Type.Array(Type.String()),
});
export type V2ServerMetadata = Static<typeof V2ServerMetadata>;
