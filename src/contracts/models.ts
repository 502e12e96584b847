import { type Static, Type } from '@sinclair/typebox';
import { IsoTime, Nullable } from './common.js';

/** Model and alias names: lowercase letters, digits and "-", as in DNS labels. */
export const MODEL_NAME_PATTERN = '^[a-z0-9]([-a-z0-9]{0,198}[a-z0-9])?$';
/** Aliases start with a letter so that `name@3` (a version) and `name@champion` never clash. */
export const ALIAS_PATTERN = '^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$';

export const ModelName = Type.String({ pattern: MODEL_NAME_PATTERN, maxLength: 200, description: 'Lowercase letters, digits and "-"' });
export const AliasName = Type.String({
  pattern: ALIAS_PATTERN,
  maxLength: 63,
  description: 'Starts with a letter: champion, challenger, …',
});

/** One input or output of a model, as the Open Inference Protocol describes tensors (-1: any size). */
export const TensorSpec = Type.Object({
  name: Type.String({ maxLength: 200 }),
  datatype: Type.String({ maxLength: 16, description: 'FP32, INT64, …' }),
  shape: Type.Array(Type.Integer({ minimum: -1 }), { maxItems: 16 }),
});
export type TensorSpec = Static<typeof TensorSpec>;

export const IoSignature = Type.Object({ inputs: Type.Array(TensorSpec), outputs: Type.Array(TensorSpec) });
export type IoSignature = Static<typeof IoSignature>;

/** An imported model's file, as the ONNX graph describes itself. */
export const ImportedFrom = Type.Object({
  source: Type.Literal('imported'),
  fileName: Nullable(Type.String()),
  fileSha256: Type.String({ description: 'sha256 of the uploaded ONNX file' }),
  fileSizeBytes: Type.Integer(),
  producerName: Type.String({ description: 'The exporter that wrote the file (pytorch, tf2onnx, skl2onnx, …)' }),
  producerVersion: Type.String(),
  irVersion: Type.Integer(),
  opsets: Type.Array(Type.Object({ domain: Type.String(), version: Type.Integer() })),
  operators: Type.Array(Type.String()),
});
export type ImportedFrom = Static<typeof ImportedFrom>;

/** Where a version came from: the run, the exact dataset version, the parameters, the code — or the imported file. */
export const Lineage = Type.Object({
  runId: Nullable(Type.String()),
  dataset: Nullable(Type.Object({ name: Type.String(), version: Type.Integer(), sha256: Type.String() })),
  parameters: Type.Record(Type.String(), Type.Unknown()),
  codeVersion: Type.String(),
  source: Type.Optional(Type.Union([Type.Literal('trained'), Type.Literal('federated'), Type.Literal('imported')])),
  imported: Type.Optional(ImportedFrom),
});
export type Lineage = Static<typeof Lineage>;

export const ModelVersionView = Type.Object({
  model: Type.String(),
  version: Type.Integer(),
  aliases: Type.Array(Type.String()),
  artifact: Type.Object({
    sha256: Type.String(),
    sizeBytes: Type.Integer(),
    signature: Type.String({ description: 'ed25519 over "fogline.bundle.v1\\n<model>\\n<version>\\n<sha256>", base64' }),
    downloadPath: Type.String(),
  }),
  framework: Type.String(),
  kind: Type.String(),
  ioSignature: IoSignature,
  metrics: Type.Record(Type.String(), Type.Unknown()),
  lineage: Lineage,
  tags: Type.Record(Type.String(), Type.String()),
  description: Nullable(Type.String()),
  createdAt: IsoTime,
  createdBy: Nullable(Type.String()),
});
export type ModelVersionView = Static<typeof ModelVersionView>;

export const ModelView = Type.Object({
  name: Type.String(),
  description: Nullable(Type.String()),
  latestVersion: Nullable(Type.Integer()),
  versionCount: Type.Integer(),
  aliases: Type.Record(Type.String(), Type.Integer()),
  createdAt: IsoTime,
  updatedAt: IsoTime,
});
export type ModelView = Static<typeof ModelView>;

export const ModelList = Type.Object({ models: Type.Array(ModelView) });
export type ModelList = Static<typeof ModelList>;
export const ModelVersionList = Type.Object({ versions: Type.Array(ModelVersionView) });
export type ModelVersionList = Static<typeof ModelVersionList>;

export const ModelParams = Type.Object({ name: ModelName });
export const ModelVersionParams = Type.Object({
  name: ModelName,
  version: Type.String({ maxLength: 63, description: 'A version number or an alias' }),
});
export const ModelAliasParams = Type.Object({ name: ModelName, alias: AliasName });

/** `POST /models/{name}/versions` with the .onnx file as the body: the rest comes in the query (or as multipart fields). */
export const ModelImportQuery = Type.Object(
  {
    filename: Type.Optional(Type.String({ maxLength: 500 })),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
    tag: Type.Optional(Type.Array(Type.String({ maxLength: 601, description: 'key=value' }), { maxItems: 50 })),
    labels: Type.Optional(
      Type.String({
        maxLength: 12_000,
        description: 'Class names, one per line, in the order of the classifier output scores (longer lists: a multipart labels field)',
      }),
    ),
  },
  { additionalProperties: false },
);
export type ModelImportQuery = Static<typeof ModelImportQuery>;

export const SetAliasRequest = Type.Object({ version: Type.Integer({ minimum: 1 }) }, { additionalProperties: false });
export type SetAliasRequest = Static<typeof SetAliasRequest>;

export const TagsPatch = Type.Object(
  {
    set: Type.Optional(Type.Record(Type.String({ maxLength: 100 }), Type.String({ maxLength: 500 }), { maxProperties: 50 })),
    remove: Type.Optional(Type.Array(Type.String({ maxLength: 100 }), { maxItems: 50 })),
  },
  { additionalProperties: false },
);
export type TagsPatch = Static<typeof TagsPatch>;

export const RegistryPublicKey = Type.Object({
  algorithm: Type.Literal('ed25519'),
  publicKeyPem: Type.String(),
  signedMessage: Type.String({ description: 'What each bundle signature covers' }),
});
export type RegistryPublicKey = Static<typeof RegistryPublicKey>;
