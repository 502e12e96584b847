import { createHash } from 'node:crypto';
import type { ModelVersionView } from '../contracts/models.js';
import type { V2ModelMetadata } from '../contracts/open-inference.js';
import { FoglineError } from '../errors/fogline-error.js';
import { type LoadedPredictor, loadBundle } from '../ml/bundle/load-bundle.js';
import type { ModelRegistry } from '../registry/model-registry.js';
import type { InferenceCall, InferenceResult } from './inference-call.js';
import type { V2ModelSource } from './v2-model-source.js';
import { selectOutputs } from './v2-tensors.js';

/** Loaded versions kept in memory; the least recently used one is freed past this. */
const MAX_LOADED = 8;
/** How long a name (and alias) stays resolved to a version without asking the registry: an alias move shows within this. */
const RESOLVE_CACHE_MS = 1000;

/**
 * Serves any registered model version on the Open Inference Protocol from the control plane:
 * the endpoint offloading will send work to. A version is loaded on first use (its bundle's
 * sha256 checked against the registry) and kept while it is among the most recently used.
 */
export class CloudInference implements V2ModelSource {
  private readonly loaded = new Map<string, Promise<LoadedPredictor>>();
  private readonly resolved = new Map<string, { view: ModelVersionView; at: number }>();
  /** Predictions under way, and the recent time of one (ms): the queue an answer reports. */
  private inFlight = 0;
  private computeMs: number | undefined;

  constructor(
    private readonly models: ModelRegistry,
    private readonly ping: () => Promise<void>,
  ) {}

  async ready(): Promise<boolean> {
    await this.ping();
    return true;
  }

  async modelReady(name: string, version?: string): Promise<void> {
    await this.resolve(name, version);
  }

  /** `version` is a number; none means the champion alias, else the latest version. */
  async resolve(name: string, version?: string): Promise<ModelVersionView> {
    // Five registry queries per request would cost more than the inference itself.
    const key = `${name}@${version ?? ''}`;
    const cached = this.resolved.get(key);
    if (cached && Date.now() - cached.at < RESOLVE_CACHE_MS) return cached.view;
    const view = await this.resolveNow(name, version);
    if (this.resolved.size > 1000) this.resolved.clear();
    this.resolved.set(key, { view, at: Date.now() });
    return view;
  }

  private async resolveNow(name: string, version?: string): Promise<ModelVersionView> {
    if (version !== undefined) {
      if (!/^[1-9]\d{0,8}$/.test(version))
        throw new FoglineError('FOGLINE_ERR_MODEL_VERSION_NOT_FOUND', `"${version}" is not a version number`);
      return this.models.getVersion(name, Number(version));
    }
    const model = await this.models.getModel(name);
    return this.models.getVersion(name, model.aliases.champion ?? model.latestVersion ?? 0);
  }

  async metadata(name: string, version?: string): Promise<V2ModelMetadata> {
    const view = await this.resolve(name, version);
    const versions = (await this.models.listVersions(view.model)).map((v) => String(v.version));
    return {
      name: view.model,
      versions,
      platform: `fogline-${view.framework}`,
      inputs: view.ioSignature.inputs,
      outputs: view.ioSignature.outputs,
    };
  }

  async infer(call: InferenceCall): Promise<InferenceResult> {
    const view = await this.resolve(call.name, call.version);
    const predictor = await this.predictor(view);
    this.inFlight += 1;
    const started = performance.now();
    try {
      const outputs = selectOutputs(await predictor.predict(call.inputs), call.outputs);
      const ms = performance.now() - started;
      this.computeMs = this.computeMs === undefined ? ms : this.computeMs + 0.2 * (ms - this.computeMs);
      // The others still computing are what a request arriving now would wait behind.
      return { modelName: view.model, modelVersion: String(view.version), outputs, queueMs: (this.inFlight - 1) * this.computeMs };
    } finally {
      this.inFlight -= 1;
    }
  }

  async close(): Promise<void> {
    const all = [...this.loaded.values()];
    this.loaded.clear();
    for (const predictor of await Promise.allSettled(all)) if (predictor.status === 'fulfilled') predictor.value.dispose();
  }

  private predictor(view: ModelVersionView): Promise<LoadedPredictor> {
    const key = `${view.model}@${view.version}`;
    let loading = this.loaded.get(key);
    if (loading) {
      // Most recently used last: Map keeps insertion order.
      this.loaded.delete(key);
      this.loaded.set(key, loading);
      return loading;
    }
    loading = this.load(view);
    loading.catch(() => this.loaded.delete(key));
    this.loaded.set(key, loading);
    if (this.loaded.size > MAX_LOADED) {
      const [oldestKey, oldest] = this.loaded.entries().next().value as [string, Promise<LoadedPredictor>];
      this.loaded.delete(oldestKey);
      void oldest.then(
        (predictor) => predictor.dispose(),
        () => undefined,
      );
    }
    return loading;
  }

  private async load(view: ModelVersionView): Promise<LoadedPredictor> {
    const bytes = await this.models.readArtifact(view);
    const digest = createHash('sha256').update(bytes).digest('hex');
    if (digest !== view.artifact.sha256) {
      throw new FoglineError(
        'FOGLINE_ERR_ARTIFACT_MISSING',
        `The stored bundle of ${view.model} version ${view.version} does not match its sha256; it will not be served`,
      );
    }
    return loadBundle(bytes);
  }
}
