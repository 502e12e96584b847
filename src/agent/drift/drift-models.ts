import { type DriftReport, MAX_DRIFT_SAMPLES } from '../../contracts/drift.js';
import type { V2ModelMetadata } from '../../contracts/open-inference.js';
import { FoglineError } from '../../errors/fogline-error.js';
import type { InferenceCall, InferenceResult } from '../../inference/inference-call.js';
import type { V2ModelSource } from '../../inference/v2-model-source.js';
import type { BundleManifest } from '../../ml/bundle/bundle-manifest.js';
import { DriftCollector } from '../../ml/drift/drift-collector.js';

/** What serves a deployment now: the version, its bundle's digest and manifest, as the slot holds them (DeployedModels.serving). */
export type ServingLookup = (deployment: string) => { version: number; sha256: string; manifest: BundleManifest } | undefined;

interface Tracked {
  version: number;
  sha256: string;
  collector: DriftCollector;
}

/** Windows the control plane asked for, per deployment (its policy); defaults until it answers. */
export interface DriftWindows {
  windowHours: number;
  errorWindowHours: number;
  /** The policy consents to sample upload: actuals posted to the node are kept for it. */
  sampleUpload?: boolean;
  /** Unix seconds of the dataset's newest row: only newer samples are sent. */
  samplesAfter?: number | null;
}

export const DEFAULT_WINDOWS: DriftWindows = { windowHours: 168, errorWindowHours: 48 };

/** At most this many actual values in one POST …/actuals. */
export const MAX_ACTUALS = 10_000;

/** Actuals are observations: their times may be at most this far ahead of the node's clock (seconds). */
export const ACTUALS_CLOCK_SKEW_SECONDS = 3600;

/**
 * The agent's V2 source with drift statistics: every answered request's inputs (and, for
 * forecasters, its forecasts) go into the DriftCollector of the version that answered, built from
 * that version's bundle manifest (the one its slot loaded). Observation happens after
 * the answer, and a failure in it never fails the request. A new version starts a new collector
 * (a new reference). Only aggregates leave the node (`reports()`).
 */
export class DriftMonitoredModels implements V2ModelSource {
  private readonly tracked = new Map<string, Tracked>();
  /** Actuals kept for upload, per deployment, by time (bounded; sent only with the policy's consent). */
  private readonly samples = new Map<string, Map<number, number>>();
  windows = new Map<string, DriftWindows>();

  constructor(
    private readonly inner: V2ModelSource,
    private readonly serving: ServingLookup,
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

  async infer(call: InferenceCall): Promise<InferenceResult> {
    const response = await this.inner.infer(call);
    try {
      this.observe(call, response);
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
    checkActualTimes(startTime, 1, 0);
    await this.inner.modelReady(name);
    const tracked = this.current(name);
    if (!tracked) return { scored: 0, pending: 0 };
    if (!tracked.collector.errors) {
      throw new FoglineError(
        'FOGLINE_ERR_REQUEST_INVALID',
        `"${name}" serves a model of kind ${tracked.collector.kind}: actuals are for forecasters`,
      );
    }
    const step = intervalSeconds ?? tracked.collector.errors.intervalSeconds;
    checkActualTimes(startTime, values.length, step);
    const scored = tracked.collector.recordActuals(startTime, values, intervalSeconds);
    // Kept in memory either way (bounded); they leave the node only with the policy's consent.
    this.keepSamples(name, startTime, values, step);
    return { scored, pending: tracked.collector.errors.pendingCount() };
  }

  /** Waits until `name` serves, then the series interval its bundle was trained at (forecasters, anomaly detectors), seconds. */
  async seriesIntervalSeconds(name: string, wanted: () => boolean = () => true): Promise<number | undefined> {
    for (;;) {
      if (!wanted()) return undefined;
      try {
        await this.inner.modelReady(name);
        break;
      } catch {
        // Not loaded yet (first start, a download under way): ask again shortly.
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    return this.current(name)?.collector.intervalSeconds ?? undefined;
  }

  /** Forgets kept samples the control plane refused (FOGLINE_ERR_DRIFT_SAMPLES_INVALID): sending them again would only be refused again. */
  dropSamples(deployment: string, times: readonly number[]): void {
    const kept = this.samples.get(deployment);
    for (const time of times) kept?.delete(time);
  }

  /** Keeps observed values for upload: one per time (a repeat replaces it), the newest MAX_DRIFT_SAMPLES. */
  private keepSamples(name: string, startTime: number, values: readonly number[], step: number): void {
    let kept = this.samples.get(name);
    if (!kept) {
      kept = new Map();
      this.samples.set(name, kept);
    }
    for (let i = 0; i < values.length; i++) {
      const value = values[i]!;
      if (!Number.isFinite(value)) continue;
      const time = startTime + i * step;
      kept.delete(time);
      kept.set(time, value);
    }
    for (const time of kept.keys()) {
      if (kept.size <= MAX_DRIFT_SAMPLES) break;
      kept.delete(time);
    }
  }

  /**
   * The kept samples of each consenting deployment newer than what the control plane has (its
   * `samplesAfter`), oldest first, at most MAX_DRIFT_SAMPLES; the older ones are dropped (they are
   * in the dataset). Deployments without consent send nothing; a deployment no longer served loses
   * its samples.
   */
  samplesToUpload(): Array<{ deployment: string; samples: Array<{ time: number; value: number }> }> {
    const out: Array<{ deployment: string; samples: Array<{ time: number; value: number }> }> = [];
    for (const [deployment, kept] of this.samples) {
      if (!this.serving(deployment)) {
        this.samples.delete(deployment);
        continue;
      }
      const windows = this.windows.get(deployment);
      if (!windows?.sampleUpload) continue;
      const after = windows.samplesAfter ?? Number.NEGATIVE_INFINITY;
      for (const time of [...kept.keys()]) if (time <= after) kept.delete(time);
      if (kept.size === 0) continue;
      const samples = [...kept].sort((a, b) => a[0] - b[0]).map(([time, value]) => ({ time, value }));
      out.push({ deployment, samples: samples.slice(0, MAX_DRIFT_SAMPLES) });
    }
    return out;
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

  /** The collector of the version serving `name` now; a version not seen yet starts a new one (a new reference). */
  private current(name: string): Tracked | undefined {
    const serving = this.serving(name);
    if (!serving) return undefined;
    const tracked = this.tracked.get(name);
    if (tracked && tracked.sha256 === serving.sha256) return tracked;
    const fresh = { version: serving.version, sha256: serving.sha256, collector: new DriftCollector(serving.manifest) };
    this.tracked.set(name, fresh);
    return fresh;
  }

  private observe(call: InferenceCall, response: InferenceResult): void {
    const tracked = this.current(call.name);
    if (!tracked || response.modelVersion !== String(tracked.version)) return;
    tracked.collector.observe(
      call.inputs,
      response.outputs.map((o) => ({ name: o.name, shape: o.shape, data: o.data as ArrayLike<unknown> })),
    );
  }
}

/**
 * Refuses actuals whose times are not a sane range of Unix seconds: from 1970 up to the node's
 * clock plus a small skew, for the first value and the last. A 400, never kept or uploaded.
 */
function checkActualTimes(startTime: number, count: number, step: number): void {
  const last = startTime + (count - 1) * step;
  const latest = Math.floor(Date.now() / 1000) + ACTUALS_CLOCK_SKEW_SECONDS;
  if (!(startTime >= 0) || !(last <= latest)) {
    throw new FoglineError(
      'FOGLINE_ERR_REQUEST_INVALID',
      `start_time ${startTime} with ${count} value(s) every ${step} s is not in Unix seconds from 1970 up to now + ${ACTUALS_CLOCK_SKEW_SECONDS} s: actuals are values already observed`,
    );
  }
}
