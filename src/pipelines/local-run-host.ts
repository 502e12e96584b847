import type { ClaimedRun } from '../contracts/runs.js';
import type { DatasetCatalog } from '../datasets/dataset-catalog.js';
import type { ModelRegistry } from '../registry/model-registry.js';
import type { RunHost } from './run-executor.js';
import type { RunLedger } from './run-ledger.js';

/** The control plane executing runs itself: the ledger is in this process, and so are the files. */
export class LocalRunHost implements RunHost {
  constructor(
    private readonly ledger: RunLedger,
    private readonly datasets: DatasetCatalog,
    private readonly models: ModelRegistry,
  ) {}

  claim: RunHost['claim'] = (runId, worker) => this.ledger.claim(runId, worker);
  report: RunHost['report'] = (runId, attempt, report) => this.ledger.report(runId, attempt, report);
  complete: RunHost['complete'] = (runId, attempt, outcome, bundle) => this.ledger.complete(runId, attempt, outcome, bundle);
  release: RunHost['release'] = (runId, attempt) => this.ledger.release(runId, attempt);

  async files(run: ClaimedRun): Promise<{ dataset: string; warmStart?: string }> {
    const dataset = await this.datasets.filePath(await this.datasets.get(run.dataset.name, run.dataset.version));
    if (!run.warmStart) return { dataset };
    const warmStart = await this.models.artifactPath(await this.models.getVersion(run.warmStart.model, run.warmStart.version));
    return { dataset, warmStart };
  }
}
