import type { Kysely } from 'kysely';
import type { DatasetKind, DatasetSummary, DatasetVersionView } from '../contracts/datasets.js';
import { FoglineError } from '../errors/fogline-error.js';
import { type ArtifactStore, ArtifactTooLargeError } from '../registry/artifact-store.js';
import type { Database, DatasetVersionsTable } from '../store/schema.js';
import { retryOnConflict } from '../store/unique-violation.js';
import { type DatasetReadOptions, describeDatasetFile } from './dataset-reader.js';

export interface DatasetUpload {
  name: string;
  read: DatasetReadOptions;
  body: AsyncIterable<Uint8Array>;
  source: Record<string, unknown>;
  createdBy: string | null;
}

/**
 * Datasets as immutable numbered versions: the CSV is stored once under its sha256, read and
 * checked before a version exists, and described by schema, row count, time range and the report
 * of what reading it had to fix. A refused upload leaves neither a row nor a file behind.
 */
export class DatasetCatalog {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly files: ArtifactStore,
    private readonly uploadLimitBytes: number,
    private readonly now: () => number = Date.now,
  ) {}

  async push(upload: DatasetUpload): Promise<DatasetVersionView> {
    const stored = await this.files.putStream(upload.body, this.uploadLimitBytes).catch((error: unknown) => {
      if (error instanceof ArtifactTooLargeError) {
        throw new FoglineError(
          'FOGLINE_ERR_DATASET_TOO_LARGE',
          `The dataset is larger than the upload limit of ${this.uploadLimitBytes} bytes (FOGLINE_DATASET_LIMIT)`,
        );
      }
      throw error;
    });
    let facts: Awaited<ReturnType<typeof describeDatasetFile>>;
    try {
      if (stored.sizeBytes === 0) throw new FoglineError('FOGLINE_ERR_DATASET_INVALID', 'The file is empty', { problem: 'empty' });
      facts = await describeDatasetFile(await this.files.localFile(stored.sha256), upload.read);
    } catch (error) {
      await this.removeIfUnreferenced(stored.sha256);
      throw error;
    }
    // Two writers of one name can pick the same number (or deadlock on MariaDB): the loser retries.
    const version = await retryOnConflict(() =>
      this.db.transaction().execute(async (trx) => {
        const latest = await trx
          .selectFrom('dataset_versions')
          .select((eb) => eb.fn.max('version').as('latest'))
          .where('name', '=', upload.name)
          .executeTakeFirst();
        const version = Number(latest?.latest ?? 0) + 1;
        await trx
          .insertInto('dataset_versions')
          .values({
            name: upload.name,
            version,
            kind: upload.read.kind,
            sha256: stored.sha256,
            size_bytes: stored.sizeBytes,
            schema_json: JSON.stringify({ ...facts.schema, read: upload.read }),
            row_count: facts.rowCount,
            time_start: facts.timeStart,
            time_end: facts.timeEnd,
            report: JSON.stringify(facts.report),
            source: JSON.stringify(upload.source),
            created_at: this.now(),
            created_by: upload.createdBy,
          })
          .execute();
        return version;
      }),
    );
    return this.get(upload.name, version);
  }

  async list(): Promise<DatasetSummary[]> {
    const rows = await this.db.selectFrom('dataset_versions').selectAll().orderBy('name').orderBy('version').execute();
    const byName = new Map<string, DatasetVersionsTable[]>();
    for (const row of rows) byName.set(row.name, [...(byName.get(row.name) ?? []), row]);
    return [...byName.entries()].map(([name, versions]) => {
      const latest = versions[versions.length - 1] as DatasetVersionsTable;
      return {
        name,
        kind: latest.kind,
        latestVersion: latest.version,
        versionCount: versions.length,
        rowCount: latest.row_count,
        updatedAt: new Date(latest.created_at).toISOString(),
      };
    });
  }

  async versions(name: string): Promise<DatasetVersionView[]> {
    const rows = await this.db.selectFrom('dataset_versions').selectAll().where('name', '=', name).orderBy('version', 'desc').execute();
    if (rows.length === 0) throw notFound(name);
    return rows.map(toView);
  }

  /** One version; the latest when `version` is left out. */
  async get(name: string, version?: number): Promise<DatasetVersionView> {
    let query = this.db.selectFrom('dataset_versions').selectAll().where('name', '=', name);
    query = version === undefined ? query.orderBy('version', 'desc').limit(1) : query.where('version', '=', version);
    const row = await query.executeTakeFirst();
    if (!row) throw notFound(name, version);
    return toView(row);
  }

  /**
   * A local file with a version's CSV, for pipelines and readers that need a path (with a database
   * artifact store, a copy in this server's cache, made on first use).
   */
  async filePath(view: DatasetVersionView): Promise<string> {
    return this.files.localFile(view.sha256);
  }

  readOptions(view: DatasetVersionView): DatasetReadOptions {
    return (view.schema.read ?? { kind: view.kind as DatasetKind }) as DatasetReadOptions;
  }

  private async removeIfUnreferenced(sha256: string): Promise<void> {
    const used = await this.db.selectFrom('dataset_versions').select('name').where('sha256', '=', sha256).executeTakeFirst();
    if (!used) await this.files.remove(sha256);
  }
}

function notFound(name: string, version?: number): FoglineError {
  const what = version === undefined ? `No dataset is named "${name}"` : `Dataset ${name} has no version ${version}`;
  return new FoglineError('FOGLINE_ERR_DATASET_NOT_FOUND', `${what} (fogline datasets list)`);
}

function toView(row: DatasetVersionsTable): DatasetVersionView {
  const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());
  return {
    name: row.name,
    version: row.version,
    kind: row.kind as DatasetKind,
    sha256: row.sha256,
    sizeBytes: Number(row.size_bytes),
    schema: JSON.parse(row.schema_json) as Record<string, unknown>,
    rowCount: row.row_count,
    timeStart: iso(row.time_start),
    timeEnd: iso(row.time_end),
    report: JSON.parse(row.report) as Record<string, unknown>,
    source: JSON.parse(row.source) as Record<string, unknown>,
    createdAt: new Date(row.created_at).toISOString(),
    createdBy: row.created_by,
  };
}
