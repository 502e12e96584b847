import type { BundleManifest, ModelSignature } from '../bundle/bundle-manifest.js';
import { type InferInput, type InferOutput, type Predictor, readInputs } from '../bundle/infer-tensors.js';
import { tf } from '../tf/backend.js';
import { buildInputs, decodeOutputs, type ForecastRecipe, inputSize } from './forecast-recipe.js';

/** The forecaster's fixed serving contract: any client can call it without knowing the model. */
export function forecasterSignature(window: number, horizon: number): ModelSignature {
  return {
    inputs: [
      { name: 'history', datatype: 'FP32', shape: [-1, window] },
      { name: 'start_time', datatype: 'INT64', shape: [-1] },
    ],
    outputs: [{ name: 'forecast', datatype: 'FP32', shape: [-1, horizon] }],
  };
}

const CHUNK = 4096;

/**
 * Runs a trained forecaster on raw inputs: history (n × window, the data's units, most recent
 * last) and start times (Unix seconds of the first forecast point) → forecasts (n × horizon).
 * Training's evaluation and a loaded bundle both go through `forecast`, so they agree exactly.
 */
export class ForecasterPredictor implements Predictor {
  readonly kind = 'forecaster';
  readonly signature: ModelSignature;

  constructor(
    private readonly model: tf.LayersModel,
    readonly recipe: ForecastRecipe,
  ) {
    this.signature = forecasterSignature(recipe.window, recipe.horizon);
  }

  static fromManifest(model: tf.LayersModel, manifest: BundleManifest): ForecasterPredictor {
    return new ForecasterPredictor(model, manifest.preprocessing as ForecastRecipe);
  }

  forecast(histories: Float32Array, startTimes: ArrayLike<number>, n: number): Float32Array {
    const { window, horizon } = this.recipe;
    const out = new Float32Array(n * horizon);
    for (let from = 0; from < n; from += CHUNK) {
      const m = Math.min(CHUNK, n - from);
      const part = histories.subarray(from * window, (from + m) * window);
      const times = Array.prototype.slice.call(startTimes, from, from + m) as number[];
      const x = buildInputs(this.recipe, part, times, m);
      const raw = tf.tidy(() => (this.model.predict(tf.tensor2d(x, [m, inputSize(this.recipe)])) as tf.Tensor).dataSync() as Float32Array);
      out.set(decodeOutputs(this.recipe, part, raw, m), from * horizon);
    }
    return out;
  }

  async predict(inputs: InferInput[]): Promise<InferOutput[]> {
    const { values, batch } = readInputs(inputs, this.signature);
    const forecast = this.forecast(Float32Array.from(values.get('history')!), values.get('start_time')!, batch);
    return [{ name: 'forecast', shape: [batch, this.recipe.horizon], datatype: 'FP32', data: Array.from(forecast) }];
  }

  dispose(): void {
    this.model.dispose();
  }
}
