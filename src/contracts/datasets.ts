import { type Static, Type } from '@sinclair/typebox';
import { IsoTime, Nullable } from './common.js';
import { ModelName } from './models.js';

export const DATASET_KINDS = ['timeseries', 'image-csv'] as const;
export type DatasetKind = (typeof DATASET_KINDS)[number];

export const DatasetName = ModelName;

/** How to read an upload; sent as query parameters beside the raw CSV body. */
export const DatasetUploadQuery = Type.Object(
  {
    kind: Type.Optional(
      Type.Union(
        DATASET_KINDS.map((kind) => Type.Literal(kind)),
        { default: 'timeseries' },
      ),
    ),
    timeColumn: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    valueColumn: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    imageHeight: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024 })),
    imageWidth: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024 })),
    imageChannels: Type.Optional(Type.Integer({ minimum: 1, maximum: 4 })),
    filename: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);
export type DatasetUploadQuery = Static<typeof DatasetUploadQuery>;

export const DatasetVersionView = Type.Object({
  name: Type.String(),
  version: Type.Integer(),
  kind: Type.Union(DATASET_KINDS.map((kind) => Type.Literal(kind))),
  sha256: Type.String(),
  sizeBytes: Type.Integer(),
  schema: Type.Record(Type.String(), Type.Unknown(), { description: 'Columns and how they are read' }),
  rowCount: Type.Integer(),
  timeStart: Nullable(IsoTime),
  timeEnd: Nullable(IsoTime),
  report: Type.Record(Type.String(), Type.Unknown(), { description: 'What was found and fixed while reading' }),
  source: Type.Record(Type.String(), Type.Unknown()),
  createdAt: IsoTime,
  createdBy: Nullable(Type.String()),
});
export type DatasetVersionView = Static<typeof DatasetVersionView>;

export const DatasetSummary = Type.Object({
  name: Type.String(),
  kind: Type.String(),
  latestVersion: Type.Integer(),
  versionCount: Type.Integer(),
  rowCount: Type.Integer(),
  updatedAt: IsoTime,
});
export type DatasetSummary = Static<typeof DatasetSummary>;

export const DatasetList = Type.Object({ datasets: Type.Array(DatasetSummary) });
export type DatasetList = Static<typeof DatasetList>;
export const DatasetVersionList = Type.Object({ versions: Type.Array(DatasetVersionView) });
export type DatasetVersionList = Static<typeof DatasetVersionList>;
export const DatasetParams = Type.Object({ name: DatasetName });
export const DatasetVersionParams = Type.Object({ name: DatasetName, version: Type.Integer({ minimum: 1 }) });
