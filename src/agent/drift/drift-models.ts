import fs from 'node:fs';
import path from 'node:path';
import type { DriftReport } from '../../contracts/drift.js';
import type { V2InferRequest, V2InferResponse, V2ModelMetadata } from '../../contracts/open-inference.js';
import { FoglineError } from '../../errors/fogline-error.js';
import type { V2ModelSource } from '../../inference/v2-model-source.js';
import { toInferInputs } from '../../inference/v2-tensors.js';
import { readBundleManifest } from '../../ml/bundle/read-manifest.js';
import { DriftCollector } from '../../ml/drift/drift-collector.js';

/** What serves a deployment now: the version and its bundle's digest (DeployedModels.serving). */
export type ServingLookup = (deployment: string) => { version: number; sha256: string } | undefined;

interface Tracked {
  version: number;
  sha256: string;
  collector: DriftCollector;
}

/** Windows the control plane asked for, per deployment (its policy); defaults until it answers. */
export interface DriftWindows {
  windowHours: number;
  errorWindowHours: number;
}

export const DEFAULT_WINDOWS: DriftWindows = { windowHours: 168, errorWindowHours: 48 };

/** At most this many actual values in one POST …/actuals. */
export const MAX_ACTUALS = 10_000;

/**
 * The agent's V2 source with drift statistics: every answered request's inputs (and, for
 * forecasters, its forecasts) go into the DriftCollector of the version that answered, built from
 * that version's bundle manifest (read once from the artifact cache). Observation happens after
 * the answer, and a failure in it never fails the request. A new version starts a new collector
 * (a new reference). Only aggregates leave the node (`reports()`).
 */
export class DriftMonitoredModels implements V2ModelSource {
  private readonly tracked = new Map<string, Tracked>();
  private readonly loading = new Set<string>();
  windows = new Map<string, DriftWindows>();

  constructor(
    private readonly inner: V2ModelSource,
    private readonly serving: ServingLookup,
    private readonly artifactsDir: string,
  ) {}

  ready(): Promise<boolean> {
    return this.inner.ready();
  }

  metadata(name: string, version?: string): Promise<V2ModelMetadata> {
    return this.inner.metadata(name, version);
  }

  modelReady(name: string, version?: string): Promise<void> {
    return this.inner.modelReady(name, version);
  }

  async infer(name: string, version: string | undefined, request: V2InferRequest): Promise<V2InferResponse> {
    const response = await this.inner.infer(name, version, request);
    try {
      this.observe(name, request, response);
    } catch {
      // Statistics are best effort: a request never fails because of them.
    }
    return response;
  }

  /** Scores forecasts against observed values: `values[i]` is the value at `startTime + i × interval` (Unix seconds). */
  async recordActuals(
    name: string,
    startTime: number,
    values: number[],
    intervalSeconds?: number,
  ): Promise<{ scored: number; pending: number }> {
    await this.inner.modelReady(name);
    const tracked = this.current(name);
    if (!tracked) return { scored: 0, pending: 0 };
    if (!tracked.collector.errors) {
      throw new FoglineError('FOGLINE_ERR_REQUEST_INVALID', `"${name}" serves a ${tracked.collector.kind}: actuals are for forecasters`);
    }
    const scored = tracked.collector.recordActuals(startTime, values, intervalSeconds);
    return { scored, pending: tracked.collector.errors.pendingCount() };
  }

  /** One summary per deployment served now (aggregates only). */
  reports(): DriftReport[] {
    const reports: DriftReport[] = [];
    for (const [deployment, tracked] of this.tracked) {
      const serving = this.serving(deployment);
      if (!serving) {
        this.tracked.delete(deployment);
        continue;
      }
      const windows = this.windows.get(deployment) ?? DEFAULT_WINDOWS;
      reports.push({
        deployment,
        model: deployment,
        version: tracked.version,
        sha256: tracked.sha256,
        summary: tracked.collector.summary(windows.windowHours, windows.errorWindowHours),
      });
    }
    return reports;
  }

  private current(name: string): Tracked | undefined {
    const serving = this.serving(name);
    if (!serving) return undefined;
    const tracked = this.tracked.get(name);
    if (tracked && tracked.sha256 === serving.sha256) return tracked;
    // A version not seen yet: read its manifest (once), and observe from the next request on.
    if (!this.loading.has(serving.sha256)) {
      this.loading.add(serving.sha256);
      void fs.promises
        .readFile(path.join(this.artifactsDir, serving.sha256))
        .then((bytes) => {
          const manifest = readBundleManifest(bytes);
          if (this.serving(name)?.sha256 === serving.sha256) {
            this.tracked.set(name, { version: serving.version, sha256: serving.sha256, collector: new DriftCollector(manifest) });
          }
        })
        .catch(() => undefined)
        .finally(() => this.loading.delete(serving.sha256));
    }
    return undefined;
  }

  private observe(name: string, request: V2InferRequest, response: V2InferResponse): void {
    const tracked = this.current(name);
    if (!tracked || response.model_version !== String(tracked.version)) return;
    const inputs = toInferInputs(request);
    tracked.collector.observe(
      inputs,
      response.outputs.map((o) => ({ name: o.name, shape: o.shape, data: o.data as ArrayLike<unknown> })),
    );
  }
}
