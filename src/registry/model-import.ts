import { createHash } from 'node:crypto';
import type { ModelVersionView } from '../contracts/models.js';
import { FoglineError } from '../errors/fogline-error.js';
import type { ModelSignature } from '../ml/bundle/bundle-manifest.js';
import { isMlInputError } from '../ml/errors.js';
import { packageImportedModel } from '../ml/onnx-runtime/imported-model.js';
import type { ModelRegistry } from './model-registry.js';

export interface ModelImport {
  model: string;
  /** The ONNX file, streamed. */
  body: AsyncIterable<Uint8Array>;
  fileName?: string | null;
  labels?: string[];
  description?: string | null;
  tags?: Record<string, string>;
  createdBy?: string | null;
}

export interface ModelImportSettings {
  limitBytes: number;
  /** Loads the packed bundle and runs it once; throws with the reason when it cannot. */
  trialRun: (bundle: Uint8Array, signature: ModelSignature) => Promise<void>;
  codeVersion: string;
}

/**
 * Turns a user's ONNX file into a registered, signed model version. The file is hashed as it
 * streams in and refused past the size limit; then it must be ONNX, use what ONNX Runtime runs,
 * load and answer once. Only then is a version number taken: a refused file leaves nothing.
 */
export class ModelImporter {
  constructor(
    private readonly registry: ModelRegistry,
    private readonly settings: ModelImportSettings,
  ) {}

  async import(request: ModelImport): Promise<ModelVersionView> {
    const { bytes, sha256 } = await this.receive(request.body);
    if (bytes.byteLength === 0)
      throw new FoglineError('FOGLINE_ERR_MODEL_FILE_INVALID', 'The uploaded file is empty; send the .onnx file as the body');
    let packed: ReturnType<typeof packageImportedModel>;
    try {
      packed = packageImportedModel(bytes, { fileName: request.fileName ?? null, fileSha256: sha256, labels: request.labels });
    } catch (error) {
      if (isMlInputError(error)) throw new FoglineError('FOGLINE_ERR_MODEL_FILE_INVALID', error.message, { problem: error.problem });
      throw error;
    }
    try {
      await this.settings.trialRun(packed.bundle, packed.manifest.signature);
    } catch (error) {
      throw new FoglineError('FOGLINE_ERR_MODEL_FILE_INVALID', `The model cannot be served: ${(error as Error).message}`, {
        problem: 'onnx-unsupported',
      });
    }
    const origin = packed.manifest.origin!;
    return this.registry.register({
      model: request.model,
      bundle: packed.bundle,
      framework: 'onnx',
      kind: 'imported',
      ioSignature: packed.manifest.signature,
      metrics: {},
      lineage: { runId: null, dataset: null, parameters: {}, codeVersion: this.settings.codeVersion, source: 'imported', imported: origin },
      tags: request.tags,
      description: request.description ?? null,
      createdBy: request.createdBy ?? null,
    });
  }

  private async receive(body: AsyncIterable<Uint8Array>): Promise<{ bytes: Uint8Array; sha256: string }> {
    const hash = createHash('sha256');
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of body) {
      size += chunk.byteLength;
      if (size > this.settings.limitBytes) {
        throw new FoglineError(
          'FOGLINE_ERR_MODEL_FILE_TOO_LARGE',
          `The model file is larger than the import limit of ${this.settings.limitBytes} bytes (FOGLINE_MODEL_LIMIT)`,
        );
      }
      hash.update(chunk);
      chunks.push(chunk);
    }
    return { bytes: Buffer.concat(chunks), sha256: hash.digest('hex') };
  }
}
