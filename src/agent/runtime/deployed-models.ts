import type { V2InferRequest, V2InferResponse, V2ModelMetadata } from '../../contracts/open-inference.js';
import { FoglineError } from '../../errors/fogline-error.js';
import { selectOutputs, toInferInputs } from '../../inference/v2-tensors.js';
import type { V2ModelSource } from '../../inference/v2-model-source.js';
import { type LoadedVersion, ModelSlot } from './model-slot.js';
import { NO_SERVING_OBSERVER, type ServingObserver } from './serving-observer.js';

export interface DeployedModelsOptions {
  /** Told about every inference, load, swap and unload (metrics). */
  observer?: ServingObserver;
}

/**
 * The agent's models on the Open Inference Protocol: one slot per deployment name. On an agent
 * `{name}` is the deployment, and `versions/{v}` must be the version it serves now.
 *
 * @example
 * const models = new DeployedModels();
 * await models.put('energy', { version: 2, sha256, predictor });
 * await models.infer('energy', undefined, request);
 */
export class DeployedModels implements V2ModelSource {
  private readonly slots = new Map<string, ModelSlot>();
  /** Deployments this node should serve: asked for before they load, they answer 503, not 404. */
  private expected = new Set<string>();
  private readonly observer: ServingObserver;

  constructor(options: DeployedModelsOptions = {}) {
    this.observer = options.observer ?? NO_SERVING_OBSERVER;
  }

  expect(names: readonly string[]): void {
    this.expected = new Set(names);
  }

  names(): string[] {
    return [...this.slots.keys()];
  }

  serving(name: string): { version: number; sha256: string } | undefined {
    const slot = this.slots.get(name);
    return slot && { version: slot.version, sha256: slot.sha256 };
  }

  /** Serves `loaded` under `name`: a hot swap when the name already serves another version. */
  async put(name: string, loaded: LoadedVersion): Promise<void> {
    const slot = this.slots.get(name);
    const model = loaded.model ?? name;
    this.observer.loaded({ deployment: name, model, version: loaded.version, seconds: loaded.loadSeconds ?? 0, ok: true });
    if (!slot) {
      this.slots.set(name, new ModelSlot(loaded));
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
    const { signature, manifest } = slot.predictor;
    return {
      name,
      versions: [String(slot.version)],
      platform: `fogline-${manifest.framework}`,
      inputs: signature.inputs,
      outputs: signature.outputs,
    };
  }

  async infer(name: string, version: string | undefined, request: V2InferRequest): Promise<V2InferResponse> {
    const inputs = toInferInputs(request);
    return this.slot(name, version).use(async (loaded) => {
      const started = performance.now();
      let ok = false;
      try {
        const outputs = await loaded.predictor.predict(inputs);
        ok = true;
        return {
          model_name: name,
          model_version: String(loaded.version),
          ...(request.id !== undefined ? { id: request.id } : {}),
          outputs: selectOutputs(outputs, request.outputs),
        };
      } finally {
        const computeSeconds = (performance.now() - started) / 1000;
        this.observer.inferred({
          deployment: name,
          model: loaded.model ?? name,
          version: loaded.version,
          ok,
          queueSeconds: 0,
          computeSeconds,
          batchSize: 1,
        });
      }
    });
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
