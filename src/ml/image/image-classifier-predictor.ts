import type { BundleManifest, ModelSignature } from '../bundle/bundle-manifest.js';
import { type InferInput, type InferOutput, type Predictor, readInputs } from '../bundle/infer-tensors.js';
import { tf } from '../tf/backend.js';
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
    private readonly model: tf.LayersModel,
    readonly recipe: ImageRecipe,
  ) {
    this.signature = imageClassifierSignature(recipe);
  }

  static fromManifest(model: tf.LayersModel, manifest: BundleManifest): ImageClassifierPredictor {
    return new ImageClassifierPredictor(model, manifest.preprocessing as ImageRecipe);
  }

  /** Softmax probabilities (n × classes) for n images of raw pixels, row-major. */
  classify(pixels: Float32Array, n: number): Float32Array {
    const size = pixelsPerImage(this.recipe);
    const classes = this.recipe.classNames.length;
    const out = new Float32Array(n * classes);
    for (let from = 0; from < n; from += CHUNK) {
      const m = Math.min(CHUNK, n - from);
      const probabilities = tf.tidy(() => {
        const x = tf.tensor2d(pixels.subarray(from * size, (from + m) * size), [m, size]).div(this.recipe.pixelScale);
        return tf.softmax(this.model.predict(x) as tf.Tensor).dataSync() as Float32Array;
      });
      out.set(probabilities, from * classes);
    }
    return out;
  }

  async predict(inputs: InferInput[]): Promise<InferOutput[]> {
    const { values, batch } = readInputs(inputs, this.signature);
    const classes = this.recipe.classNames.length;
    const probabilities = this.classify(Float32Array.from(values.get('image')!), batch);
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
    this.model.dispose();
  }
}

export function argmax(values: Float32Array, offset: number, length: number): number {
  let best = 0;
  for (let i = 1; i < length; i++) if (values[offset + i]! > values[offset + best]!) best = i;
  return best;
}
