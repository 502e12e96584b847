import type { FastifyBaseLogger } from 'fastify';
import type { DesiredDeployment } from '../../contracts/deployments.js';
import { ArtifactRefused } from '../artifacts/artifact-refused.js';
import type { ArtifactCache } from '../artifacts/artifact-cache.js';
import type { DeployedModels } from '../runtime/deployed-models.js';
import type { OffloadSettings } from '../offload/offload-settings.js';
import type { AgentStateFiles } from './agent-state-files.js';
import type { StatusReporter } from './status-reporter.js';

/**
 * Brings what this node serves in line with its desired deployments. Idempotent: a deployment
 * already serving its desired version is left alone, a cached bundle is not downloaded again,
 * and a version that fails (download, verification, load, warm-up) leaves the old one serving.
 * Calls never overlap: a state that arrives mid-run is applied next, and only the latest one.
 */
export class Reconciler {
  private running: Promise<void> | undefined;
  private next: DesiredDeployment[] | undefined;
  private readonly abort = new AbortController();
  /** The desired entry each serving deployment came from, as persisted in serving.json. */
  private readonly serving = new Map<string, DesiredDeployment>();
  /** Artifacts refused per deployment: not fetched again until the desired state changes. */
  private readonly refused = new Map<string, string>();

  constructor(
    private readonly models: DeployedModels,
    private readonly cache: ArtifactCache,
    private readonly files: AgentStateFiles,
    private readonly status: StatusReporter,
    private readonly log: FastifyBaseLogger,
    /** Offloading's settings (OffloadingModels.settings): each desired entry's offload and joint settings go there. */
    private readonly offload?: OffloadSettings,
  ) {}

  /**
   * Queues `desired` and resolves once it (or a later state) has been applied. With `changed`
   * false (the same revision again) a refused artifact is not fetched again, so a corrupt bundle
   * is not downloaded on every poll; transient failures (link down) are retried.
   */
  apply(desired: DesiredDeployment[], changed = true): Promise<void> {
    if (changed) this.refused.clear();
    this.models.expect(desired.map((d) => d.name));
    this.offload?.expect(desired.map((d) => d.name));
    this.next = desired;
    this.running ??= this.drain();
    return this.running;
  }

  /** Aborts downloads in progress and waits for the current run to end. */
  async stop(): Promise<void> {
    this.next = undefined;
    this.abort.abort();
    await this.running?.catch(() => undefined);
  }

  private async drain(): Promise<void> {
    try {
      while (this.next && !this.abort.signal.aborted) {
        const desired = this.next;
        this.next = undefined;
        await this.reconcile(desired);
      }
    } finally {
      this.running = undefined;
    }
  }

  private async reconcile(desired: DesiredDeployment[]): Promise<void> {
    const wanted = new Set(desired.map((d) => d.name));
    for (const name of this.models.names()) {
      if (wanted.has(name)) continue;
      await this.models.remove(name);
      this.offload?.forget(name);
      this.serving.delete(name);
      this.status.delete(name);
      this.log.info({ deployment: name }, 'deployment removed from this node');
    }
    await Promise.all(desired.map((deployment) => this.reconcileOne(deployment)));
    this.files.saveServing([...this.serving.values()]);
    const inUse = new Set([...desired.map((d) => d.sha256), ...[...this.serving.values()].map((d) => d.sha256)]);
    const evicted = this.cache.evict(inUse);
    if (evicted.length > 0) this.log.info({ evicted }, 'evicted cached artifacts not in use');
  }

  private async reconcileOne(deployment: DesiredDeployment): Promise<void> {
    const { name, version } = deployment;
    const current = this.models.serving(name);
    if (current?.version === version && current.sha256 === deployment.sha256) {
      this.offload?.configure(deployment);
      this.serving.set(name, deployment);
      this.status.set(name, version, 'serving', undefined, version);
      return;
    }
    if (this.refused.get(name) === deployment.sha256) return;
    this.status.set(name, version, this.cache.has(deployment.sha256) ? 'loading' : 'pending', undefined, current?.version ?? null);
    try {
      const bytes = await this.cache.fetch(deployment, this.abort.signal, () =>
        this.status.set(name, version, 'downloading', undefined, current?.version ?? null),
      );
      this.status.set(name, version, 'loading', undefined, current?.version ?? null);
      // Known from the start of the load, so that a deployment still loading can already be offloaded.
      this.offload?.configure(deployment);
      const loaded = await this.models.load(bytes, deployment);
      if (this.abort.signal.aborted) {
        loaded.predictor.dispose();
        return;
      }
      this.serving.set(name, deployment);
      this.status.set(name, version, 'serving', undefined, version);
      await this.models.put(name, loaded);
      this.log.info({ deployment: name, model: deployment.model, version, previous: current?.version ?? null }, 'serving');
    } catch (error) {
      if (this.abort.signal.aborted) return;
      if (error instanceof ArtifactRefused) this.refused.set(name, deployment.sha256);
      const keeps = current ? `; still serving version ${current.version}` : '';
      const reason = `${(error as Error).message}${keeps}`;
      this.status.set(name, version, 'failed', reason.slice(0, 2000), current?.version ?? null);
      this.log.warn({ deployment: name, version }, `deployment failed: ${reason}`);
    }
  }
}
