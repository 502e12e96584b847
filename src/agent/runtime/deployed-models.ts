import type { V2InferRequest, V2InferResponse, V2ModelMetadata } from '../../contracts/open-inference.js';
import { FoglineError } from '../../errors/fogline-error.js';
import { selectOutputs, toInferInputs } from '../../inference/v2-tensors.js';
import type { V2ModelSource } from '../../inference/v2-model-source.js';
import { type LoadedVersion, ModelSlot } from './model-slot.js';

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
    if (slot) await slot.swap(loaded);
    else this.slots.set(name, new ModelSlot(loaded));
  }

  /** Stops serving `name`; requests already running finish first. */
  async remove(name: string): Promise<void> {
    const slot = this.slots.get(name);
    if (!slot) return;
    this.slots.delete(name);
    await slot.close();
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
    return this.slot(name, version).use(async (loaded) => ({
      model_name: name,
      model_version: String(loaded.version),
      ...(request.id !== undefined ? { id: request.id } : {}),
      outputs: selectOutputs(await loaded.predictor.predict(inputs), request.outputs),
    }));
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
