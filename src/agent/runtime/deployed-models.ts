import type { V2ModelMetadata } from '../../contracts/open-inference.js';
import { FoglineError } from '../../errors/fogline-error.js';
import type { InferenceCall, InferenceResult } from '../../inference/inference-call.js';
import { selectOutputs } from '../../inference/v2-tensors.js';
import type { V2ModelSource } from '../../inference/v2-model-source.js';
import type { DesiredDeployment } from '../../contracts/deployments.js';
import type { BundleManifest } from '../../ml/bundle/bundle-manifest.js';
import { isMlInputError } from '../../ml/errors.js';
import { type LoadOptions, loadVersion } from './load-version.js';
import { AbandonedError, BatchItemError, type BatchOptions } from './micro-batcher.js';
import { type LoadedVersion, ModelSlot, NO_BATCHING, type SlotQueue, type SlotUsage } from './model-slot.js';
import { NO_SERVING_OBSERVER, type ServingObserver } from './serving-observer.js';

export interface DeployedModelsOptions {
  /** Told about every inference, load, swap and unload (metrics). */
  observer?: ServingObserver;
  /** Micro-batching of concurrent requests to one version (agent flags --max-batch-size, --max-batch-delay-ms). */
  batching?: BatchOptions;
  /** How `load` loads a version (in a worker thread or not). */
  load?: LoadOptions;
}

/** What serves a deployment now (DeployedModels.serving). */
export interface ServingVersion {
  version: number;
  /** The registered model (the deployment's name when the desired entry named none). */
  model: string;
  sha256: string;
  /** The bundle's manifest, as the predictor loaded it: drift statistics are built from it. */
  manifest: BundleManifest;
}

/** A failure on the server's side (predictor error, crashed worker), as opposed to a bad request. */
export function isServerError(error: unknown): boolean {
  const cause = error instanceof BatchItemError ? error.error : error;
  if (isMlInputError(cause) || cause instanceof AbandonedError) return false;
  return !(cause instanceof FoglineError) || cause.status >= 500;
}

/**
 * The agent's models on the Open Inference Protocol: one slot per deployment name. On an agent
 * `{name}` is the deployment, and `versions/{v}` must be the version it serves now.
 *
 * @example
 * const models = new DeployedModels();
 * await models.put('energy', { version: 2, sha256, predictor });
 * await models.infer(inferenceCall('energy', undefined, request));
 */
export class DeployedModels implements V2ModelSource {
  private readonly slots = new Map<string, ModelSlot>();
  /** Deployments this node should serve: asked for before they load, they answer 503, not 404. */
  private expected = new Set<string>();
  private readonly observer: ServingObserver;
  private readonly batching: BatchOptions;
  private readonly loadOptions: LoadOptions;

  constructor(options: DeployedModelsOptions = {}) {
    this.observer = options.observer ?? NO_SERVING_OBSERVER;
    this.batching = options.batching ?? NO_BATCHING;
    this.loadOptions = options.load ?? {};
  }

  /**
   * Loads and warms up a version with this runtime's load options, reporting the load (failed
   * ones too) to the observer; `put` it to serve it.
   */
  async load(bytes: Uint8Array, deployment: DesiredDeployment): Promise<LoadedVersion> {
    const started = performance.now();
    try {
      return await loadVersion(bytes, deployment, this.loadOptions);
    } catch (error) {
      const seconds = (performance.now() - started) / 1000;
      this.observer.loaded({ deployment: deployment.name, model: deployment.model, version: deployment.version, seconds, ok: false });
      throw error;
    }
  }

  /**
   * Requests and server-side errors of the version serving `name` now, since it took over (a new
   * version starts from zero); a client's bad input is not an error. Undefined when `name` is
   * not served.
   */
  usage(name: string): SlotUsage | undefined {
    return this.slots.get(name)?.usage();
  }

  expect(names: readonly string[]): void {
    this.expected = new Set(names);
  }

  /** The queue a request to `name` would join now; undefined when nothing serves it here. */
  queue(name: string): (SlotQueue & { version: number }) | undefined {
    const slot = this.slots.get(name);
    return slot && { ...slot.queue(), version: slot.version };
  }

  names(): string[] {
    return [...this.slots.keys()];
  }

  /** The version serving `name` now: its number, registered model, bundle digest and manifest (read when it loaded). */
  serving(name: string): ServingVersion | undefined {
    const slot = this.slots.get(name);
    return slot && { version: slot.version, model: slot.model ?? name, sha256: slot.sha256, manifest: slot.predictor.manifest };
  }

  /** Serves `loaded` under `name`: a hot swap when the name already serves another version. */
  async put(name: string, loaded: LoadedVersion): Promise<void> {
    const slot = this.slots.get(name);
    const model = loaded.model ?? name;
    this.observer.loaded({ deployment: name, model, version: loaded.version, seconds: loaded.loadSeconds ?? 0, ok: true });
    if (!slot) {
      this.slots.set(name, new ModelSlot(loaded, this.batching));
      return;
    }
    const started = performance.now();
    const from = { version: slot.version, model: slot.model ?? name };
    const swapped = slot.swap(loaded);
    this.observer.swapped({
      deployment: name,
      model,
      fromVersion: from.version,
      toVersion: loaded.version,
      seconds: (performance.now() - started) / 1000,
    });
    await swapped;
    this.observer.unloaded({ deployment: name, model: from.model, version: from.version });
  }

  /** Stops serving `name`; requests already running finish first. */
  async remove(name: string): Promise<void> {
    const slot = this.slots.get(name);
    if (!slot) return;
    this.slots.delete(name);
    const { version, model } = slot;
    await slot.close();
    this.observer.unloaded({ deployment: name, model: model ?? name, version });
  }

  async close(): Promise<void> {
    await Promise.all(this.names().map((name) => this.remove(name)));
  }

  async ready(): Promise<boolean> {
    return true;
  }

  async modelReady(name: string, version?: string): Promise<void> {
    this.slot(name, version);
  }

  async metadata(name: string, version?: string): Promise<V2ModelMetadata> {
    const slot = this.slot(name, version);
    const { signature, runtime } = slot.predictor;
    return {
      name,
      versions: [String(slot.version)],
      // Which engine answers here: the ONNX graph or the tfjs weights (a built-in bundle has both).
      platform: runtime === 'onnx' ? 'onnxruntime_onnx' : 'fogline-tfjs',
      inputs: signature.inputs,
      outputs: signature.outputs,
    };
  }

  async infer(call: InferenceCall): Promise<InferenceResult> {
    const { name } = call;
    const { loaded, result } = this.slot(name, call.version).infer(call.inputs, isServerError, call.signal);
    const report = (ok: boolean, run: { batchSize: number; queueSeconds: number; computeSeconds: number }) =>
      this.observer.inferred({
        deployment: name,
        model: loaded.model ?? name,
        version: loaded.version,
        ok,
        queueSeconds: run.queueSeconds,
        computeSeconds: run.computeSeconds,
        batchSize: run.batchSize,
      });
    let answer;
    try {
      answer = await result;
    } catch (error) {
      if (!(error instanceof BatchItemError)) throw error;
      if (error.error instanceof AbandonedError) {
        this.observer.abandoned({
          deployment: name,
          model: loaded.model ?? name,
          version: loaded.version,
          queueSeconds: error.queueSeconds,
        });
        throw new FoglineError('FOGLINE_ERR_REQUEST_ABANDONED', `The client closed the connection before "${name}" got to the request`);
      }
      report(false, error);
      throw error.error;
    }
    report(true, answer);
    return { modelName: name, modelVersion: String(loaded.version), outputs: selectOutputs(answer.value, call.outputs) };
  }

  private slot(name: string, version: string | undefined): ModelSlot {
    const slot = this.slots.get(name);
    if (!slot && this.expected.has(name)) {
      throw new FoglineError(
        'FOGLINE_ERR_MODEL_LOADING',
        `"${name}" is deployed to this node but not serving yet (downloading or loading): retry shortly`,
      );
    }
    if (!slot) throw new FoglineError('FOGLINE_ERR_MODEL_NOT_FOUND', `This node serves no model "${name}"`);
    if (version !== undefined && version !== String(slot.version)) {
      throw new FoglineError(
        'FOGLINE_ERR_MODEL_VERSION_NOT_FOUND',
        `This node serves "${name}" at version ${slot.version}, not ${version}`,
      );
    }
    return slot;
  }
}
