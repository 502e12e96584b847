import type { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import { type ChangePublisher, NO_CHANGES } from '../cluster/change-event.js';
import type { IoSignature, Lineage, ModelVersionView, ModelView } from '../contracts/models.js';
import { FoglineError } from '../errors/fogline-error.js';
import type { Database, ModelVersionsTable } from '../store/schema.js';
import { retryOnConflict } from '../store/unique-violation.js';
import type { ArtifactStore, ByteRange, StoredArtifact } from './artifact-store.js';
import { type ModelSelector, parseModelSelector } from './model-selector.js';
import type { SigningKey } from './signing-key.js';

export interface NewModelVersion {
  model: string;
  bundle: Uint8Array;
  framework: string;
  kind: string;
  ioSignature: IoSignature;
  metrics: Record<string, unknown>;
  lineage: Lineage;
  tags?: Record<string, string>;
  description?: string | null;
  createdBy?: string | null;
}

/**
 * Registered models and their immutable, numbered versions. Each version's bundle lives in the
 * artifact store under its sha256 and is signed with the control plane's key; aliases move
 * atomically from one version to another.
 */
export class ModelRegistry {
  /** Where its changes are announced (the control plane's ChangeSignal). */
  changes: ChangePublisher = NO_CHANGES;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly artifacts: ArtifactStore,
    private readonly key: SigningKey,
    private readonly now: () => number = Date.now,
  ) {}

  get publicKeyPem(): string {
    return this.key.publicKeyPem;
  }

  async register(input: NewModelVersion): Promise<ModelVersionView> {
    const artifact = await this.artifacts.putBytes(input.bundle);
    try {
      const view = await this.insertVersion(input, artifact);
      // A new latest version moves every deployment that follows the model's latest.
      this.changes.publish({ kind: 'version-registered', model: view.model, version: view.version });
      return view;
    } catch (error) {
      // A failed registration leaves no orphan bundle behind (unless another version shares it).
      const shared = await this.db
        .selectFrom('model_versions')
        .select('version')
        .where('artifact_sha256', '=', artifact.sha256)
        .executeTakeFirst();
      if (!shared) await this.artifacts.remove(artifact.sha256);
      throw error;
    }
  }

  private async insertVersion(input: NewModelVersion, artifact: StoredArtifact): Promise<ModelVersionView> {
    // Two writers of one name can pick the same number (or deadlock on MariaDB): the loser retries.
    const version = await retryOnConflict(() =>
      this.db.transaction().execute(async (trx) => {
        const now = this.now();
        // Updating the model row first locks it (PostgreSQL, MariaDB), so registrations of one
        // model take their numbers one at a time and each reads the latest committed version.
        const touched = await trx.updateTable('models').set({ updated_at: now }).where('name', '=', input.model).executeTakeFirst();
        if (Number(touched.numUpdatedRows) === 0) {
          await trx.insertInto('models').values({ name: input.model, description: null, created_at: now, updated_at: now }).execute();
        }
        const latest = await trx
          .selectFrom('model_versions')
          .select((eb) => eb.fn.max('version').as('latest'))
          .where('model_name', '=', input.model)
          .executeTakeFirst();
        const version = Number(latest?.latest ?? 0) + 1;
        await trx
          .insertInto('model_versions')
          .values({
            model_name: input.model,
            version,
            artifact_sha256: artifact.sha256,
            artifact_size: artifact.sizeBytes,
            bundle_signature: this.key.sign(input.model, version, artifact.sha256),
            framework: input.framework,
            kind: input.kind,
            io_signature: JSON.stringify(input.ioSignature),
            metrics: JSON.stringify(input.metrics),
            lineage: JSON.stringify(input.lineage),
            tags: JSON.stringify(input.tags ?? {}),
            description: input.description ?? null,
            created_at: now,
            created_by: input.createdBy ?? null,
          })
          .execute();
        return version;
      }),
    );
    return this.getVersion(input.model, version);
  }

  async listModels(): Promise<ModelView[]> {
    return this.modelViews();
  }

  /** One model; reads only its own rows (resolving a selector does this on every deployment check). */
  async getModel(name: string): Promise<ModelView> {
    const [model] = await this.modelViews(name);
    if (!model) throw modelNotFound(name);
    return model;
  }

  private async modelViews(name?: string): Promise<ModelView[]> {
    let models = this.db.selectFrom('models').selectAll().orderBy('name');
    let counts = this.db
      .selectFrom('model_versions')
      .select(['model_name', (eb) => eb.fn.max('version').as('latest'), (eb) => eb.fn.countAll<number>().as('count')])
      .groupBy('model_name');
    let aliases = this.db.selectFrom('model_aliases').selectAll();
    if (name !== undefined) {
      models = models.where('name', '=', name);
      counts = counts.where('model_name', '=', name);
      aliases = aliases.where('model_name', '=', name);
    }
    const [modelRows, countRows, aliasRows] = await Promise.all([models.execute(), counts.execute(), aliases.execute()]);
    return modelRows.map((model) => {
      const count = countRows.find((row) => row.model_name === model.name);
      return {
        name: model.name,
        description: model.description,
        latestVersion: count ? Number(count.latest) : null,
        versionCount: count ? Number(count.count) : 0,
        aliases: Object.fromEntries(aliasRows.filter((a) => a.model_name === model.name).map((a) => [a.alias, a.version])),
        createdAt: new Date(model.created_at).toISOString(),
        updatedAt: new Date(model.updated_at).toISOString(),
      };
    });
  }

  async listVersions(model: string): Promise<ModelVersionView[]> {
    await this.getModel(model);
    const rows = await this.db
      .selectFrom('model_versions')
      .selectAll()
      .where('model_name', '=', model)
      .orderBy('version', 'desc')
      .execute();
    const aliases = await this.aliasesOf(model);
    return rows.map((row) => toView(row, aliases));
  }

  async getVersion(model: string, version: number): Promise<ModelVersionView> {
    const row = await this.db
      .selectFrom('model_versions')
      .selectAll()
      .where('model_name', '=', model)
      .where('version', '=', version)
      .executeTakeFirst();
    if (!row) {
      await this.getModel(model);
      throw new FoglineError(
        'FOGLINE_ERR_MODEL_VERSION_NOT_FOUND',
        `Model ${model} has no version ${version} (fogline models versions ${model})`,
      );
    }
    return toView(row, await this.aliasesOf(model));
  }

  /** Resolves `name`, `name@3`, `name@champion`, or a parsed selector, to one version. */
  async resolve(selector: string | ModelSelector): Promise<ModelVersionView> {
    const parsed = typeof selector === 'string' ? parseModelSelector(selector) : selector;
    if (parsed.kind === 'version') return this.getVersion(parsed.model, parsed.version);
    const model = await this.getModel(parsed.model);
    if (parsed.kind === 'alias') {
      const version = model.aliases[parsed.alias];
      if (version === undefined) {
        throw new FoglineError(
          'FOGLINE_ERR_MODEL_ALIAS_NOT_FOUND',
          `Model ${parsed.model} has no alias "${parsed.alias}" (fogline models alias set …)`,
        );
      }
      return this.getVersion(parsed.model, version);
    }
    if (model.latestVersion === null)
      throw new FoglineError('FOGLINE_ERR_MODEL_VERSION_NOT_FOUND', `Model ${parsed.model} has no versions yet`);
    return this.getVersion(parsed.model, model.latestVersion);
  }

  /** Points `alias` at `version`, creating or moving it in one transaction. */
  async setAlias(model: string, alias: string, version: number): Promise<ModelVersionView> {
    await this.getVersion(model, version);
    await this.db.transaction().execute(async (trx) => {
      const updated = await trx
        .updateTable('model_aliases')
        .set({ version, updated_at: this.now() })
        .where('model_name', '=', model)
        .where('alias', '=', alias)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) === 0) {
        await trx.insertInto('model_aliases').values({ model_name: model, alias, version, updated_at: this.now() }).execute();
      }
    });
    this.changes.publish({ kind: 'alias-moved', model, alias, version });
    return this.getVersion(model, version);
  }

  async deleteAlias(model: string, alias: string): Promise<void> {
    const result = await this.db.deleteFrom('model_aliases').where('model_name', '=', model).where('alias', '=', alias).executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) {
      await this.getModel(model);
      throw new FoglineError('FOGLINE_ERR_MODEL_ALIAS_NOT_FOUND', `Model ${model} has no alias "${alias}"`);
    }
    this.changes.publish({ kind: 'alias-moved', model, alias, version: null });
  }

  async updateTags(model: string, version: number, patch: { set?: Record<string, string>; remove?: string[] }): Promise<ModelVersionView> {
    const current = await this.getVersion(model, version);
    const tags = { ...current.tags, ...patch.set };
    for (const key of patch.remove ?? []) delete tags[key];
    await this.db
      .updateTable('model_versions')
      .set({ tags: JSON.stringify(tags) })
      .where('model_name', '=', model)
      .where('version', '=', version)
      .execute();
    this.changes.publish({ kind: 'version-changed', model, version });
    return { ...current, tags };
  }

  /** A local file with the bundle's bytes (the database store copies it into its cache first), for readers that need a path. */
  async artifactPath(view: ModelVersionView): Promise<string> {
    await this.assertArtifactStored(view);
    return this.artifacts.localFile(view.artifact.sha256);
  }

  /** Streams the bundle, or a byte range of it, for downloads. */
  async openArtifact(view: ModelVersionView, range?: ByteRange): Promise<Readable> {
    await this.assertArtifactStored(view);
    return this.artifacts.createReadStream(view.artifact.sha256, range);
  }

  /** The whole bundle in memory (loading it for inference). */
  async readArtifact(view: ModelVersionView): Promise<Buffer> {
    await this.assertArtifactStored(view);
    return this.artifacts.read(view.artifact.sha256);
  }

  private async assertArtifactStored(view: ModelVersionView): Promise<void> {
    if (!(await this.artifacts.has(view.artifact.sha256))) {
      throw new FoglineError(
        'FOGLINE_ERR_ARTIFACT_MISSING',
        `The bundle of ${view.model} version ${view.version} is missing from the artifact store`,
      );
    }
  }

  private async aliasesOf(model: string): Promise<{ alias: string; version: number }[]> {
    return this.db.selectFrom('model_aliases').select(['alias', 'version']).where('model_name', '=', model).orderBy('alias').execute();
  }
}

function modelNotFound(name: string): FoglineError {
  return new FoglineError('FOGLINE_ERR_MODEL_NOT_FOUND', `No model is named "${name}" (fogline models list)`);
}

function toView(row: ModelVersionsTable, aliases: { alias: string; version: number }[]): ModelVersionView {
  return {
    model: row.model_name,
    version: row.version,
    aliases: aliases.filter((a) => a.version === row.version).map((a) => a.alias),
    artifact: {
      sha256: row.artifact_sha256,
      sizeBytes: Number(row.artifact_size),
      signature: row.bundle_signature,
      downloadPath: `/api/v1/models/${row.model_name}/versions/${row.version}/artifact`,
    },
    framework: row.framework,
    kind: row.kind,
    ioSignature: JSON.parse(row.io_signature) as IoSignature,
    metrics: JSON.parse(row.metrics) as Record<string, unknown>,
    lineage: JSON.parse(row.lineage) as Lineage,
    tags: JSON.parse(row.tags) as Record<string, string>,
    description: row.description,
    createdAt: new Date(row.created_at).toISOString(),
    createdBy: row.created_by,
  };
}
