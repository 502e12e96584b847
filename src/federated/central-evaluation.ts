import fs from 'node:fs';
import type { FederatedJobView, RoundMetrics } from '../contracts/federated.js';
import type { DatasetCatalog } from '../datasets/dataset-catalog.js';
import { FoglineError } from '../errors/fogline-error.js';
import { evaluateWeights } from '../ml/federated/client-update.js';
import { evaluationMatrices, type FederatedModelSpec } from '../ml/federated/federated-model.js';
import { parseImageCsv } from '../ml/image/image-csv.js';
import type { LossName, Matrix } from '../ml/tf/train-loop.js';
import { parseTimeSeriesCsv } from '../ml/timeseries/ingest.js';

/**
 * Server-side evaluation where a central test set exists: a catalog dataset, pinned to its version
 * when the job starts, scored with each round's new global model in the control plane's process
 * (keep it small: it runs on the coordinator's thread).
 */
export class CentralEvaluation {
  private readonly sets = new Map<string, { x: Matrix; y: Matrix; loss: LossName }>();

  constructor(private readonly datasets: DatasetCatalog | undefined) {}

  /** Resolves `name` or `name@version` to a pinned version of the kind the job needs. */
  async pin(reference: string, kind: FederatedJobView['datasetKind']): Promise<{ name: string; version: number }> {
    const [name = '', versionText] = reference.split('@');
    const version = versionText === undefined ? undefined : Number(versionText);
    if (!this.datasets || (version !== undefined && !Number.isInteger(version))) {
      throw new FoglineError('FOGLINE_ERR_FL_JOB_INVALID', `"${reference}" is not a dataset reference: use name or name@version`);
    }
    const dataset = await this.datasets.get(name, version);
    const wanted = kind === 'digits' ? 'image-csv' : 'timeseries';
    if (dataset.kind !== wanted) {
      throw new FoglineError(
        'FOGLINE_ERR_FL_JOB_INVALID',
        `A ${kind} job is evaluated on a dataset of kind ${wanted}; ${dataset.name}@${dataset.version} is ${dataset.kind}`,
      );
    }
    return { name: dataset.name, version: dataset.version };
  }

  /** Drops the parsed sets of jobs that have ended. */
  keepOnly(running: readonly string[]): void {
    for (const id of this.sets.keys()) if (!running.includes(id)) this.sets.delete(id);
  }

  /** The global weights on the job's central set (parsed once per process). */
  async score(
    jobId: string,
    spec: FederatedModelSpec,
    ref: { name: string; version: number },
    weights: Float32Array,
  ): Promise<Pick<RoundMetrics, 'serverLoss' | 'serverAccuracy'>> {
    let set = this.sets.get(jobId);
    if (!set) {
      if (!this.datasets) throw new Error('no dataset catalog to read the central test set from');
      const text = await fs.promises.readFile(await this.datasets.filePath(await this.datasets.get(ref.name, ref.version)), 'utf8');
      const parsed =
        spec.kind === 'image-classifier'
          ? parseImageCsv(text, { height: spec.recipe.height, width: spec.recipe.width, channels: spec.recipe.channels })
          : parseTimeSeriesCsv(text);
      set = evaluationMatrices(spec, parsed);
      this.sets.set(jobId, set);
    }
    const scored = await evaluateWeights(spec, weights, set.x, set.y, set.loss);
    return { serverLoss: scored.loss, serverAccuracy: scored.accuracy ?? null };
  }
}
