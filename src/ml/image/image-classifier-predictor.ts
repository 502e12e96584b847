import type { BundleManifest, ModelSignature } from '../bundle/bundle-manifest.js';
import { type InferInput, type InferOutput, type Predictor, readInputs } from '../bundle/infer-tensors.js';
import type { Network, NetworkRuntime } from '../tf/network.js';
import { type ImageRecipe, pixelsPerImage } from './image-recipe.js';

/** Images in raw pixel values (e.g. 0..16 for optdigits, 0..255 for 8-bit); class probabilities and the most likely class out. */
export function imageClassifierSignature(recipe: Pick<ImageRecipe, 'height' | 'width' | 'channels' | 'classNames'>): ModelSignature {
  return {
    inputs: [{ name: 'image', datatype: 'FP32', shape: [-1, recipe.height, recipe.width, recipe.channels] }],
    outputs: [
      { name: 'probabilities', datatype: 'FP32', shape: [-1, recipe.classNames.length] },
      { name: 'label', datatype: 'INT64', shape: [-1] },
    ],
  };
}

const CHUNK = 4096;

export class ImageClassifierPredictor implements Predictor {
  readonly kind = 'image-classifier';
  readonly signature: ModelSignature;

  constructor(
    private readonly network: Network,
    readonly recipe: ImageRecipe,
  ) {
    this.signature = imageClassifierSignature(recipe);
  }

  static fromManifest(network: Network, manifest: BundleManifest): ImageClassifierPredictor {
    return new ImageClassifierPredictor(network, manifest.preprocessing as ImageRecipe);
  }

  get runtime(): NetworkRuntime {
    return this.network.runtime;
  }

  /** Softmax probabilities (n × classes) for n images of raw pixels, row-major. The network gives logits. */
  async classify(pixels: Float32Array, n: number): Promise<Float32Array> {
    const size = pixelsPerImage(this.recipe);
    const classes = this.recipe.classNames.length;
    const out = new Float32Array(n * classes);
    for (let from = 0; from < n; from += CHUNK) {
      const m = Math.min(CHUNK, n - from);
      const scaled = pixels.slice(from * size, (from + m) * size).map((p) => p / this.recipe.pixelScale);
      softmaxRows(await this.network.run(scaled, m, size), m, classes, out.subarray(from * classes));
    }
    return out;
  }

  async predict(inputs: InferInput[]): Promise<InferOutput[]> {
    const { values, batch } = readInputs(inputs, this.signature);
    const classes = this.recipe.classNames.length;
    const probabilities = await this.classify(Float32Array.from(values.get('image')!), batch);
    return [
      { name: 'probabilities', shape: [batch, classes], datatype: 'FP32', data: Array.from(probabilities) },
      {
        name: 'label',
        shape: [batch],
        datatype: 'INT64',
        data: Array.from({ length: batch }, (_, r) => argmax(probabilities, r * classes, classes)),
      },
    ];
  }

  dispose(): void {
    this.network.dispose();
  }
}

export function argmax(values: Float32Array, offset: number, length: number): number {
  let best = 0;
  for (let i = 1; i < length; i++) if (values[offset + i]! > values[offset + best]!) best = i;
  return best;
}

/** Row-wise softmax of rows × classes logits into `out`, shifted by each row's largest logit so exp cannot overflow. */
export function softmaxRows(logits: Float32Array, rows: number, classes: number, out: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    const row = logits.subarray(r * classes, (r + 1) * classes);
    const max = row.reduce((a, b) => Math.max(a, b), Number.NEGATIVE_INFINITY);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(row[c]! - max);
    for (let c = 0; c < classes; c++) out[r * classes + c] = Math.exp(row[c]! - max) / sum;
  }
}
