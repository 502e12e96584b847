import type { BundleManifest, ModelSignature } from '../bundle/bundle-manifest.js';
import { type InferInput, type InferOutput, type Predictor, readInputs } from '../bundle/infer-tensors.js';
import type { Network, NetworkRuntime } from '../tf/network.js';
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
 * Training's evaluation and a loaded bundle both go through `forecast`, so they agree exactly,
 * whichever engine (tfjs or ONNX Runtime) runs the network between buildInputs and decodeOutputs.
 */
export class ForecasterPredictor implements Predictor {
  readonly kind = 'forecaster';
  readonly signature: ModelSignature;

  constructor(
    private readonly network: Network,
    readonly recipe: ForecastRecipe,
  ) {
    this.signature = forecasterSignature(recipe.window, recipe.horizon);
  }

  static fromManifest(network: Network, manifest: BundleManifest): ForecasterPredictor {
    return new ForecasterPredictor(network, manifest.preprocessing as ForecastRecipe);
  }

  get runtime(): NetworkRuntime {
    return this.network.runtime;
  }

  async forecast(histories: Float32Array, startTimes: ArrayLike<number>, n: number): Promise<Float32Array> {
    const { window, horizon } = this.recipe;
    const out = new Float32Array(n * horizon);
    for (let from = 0; from < n; from += CHUNK) {
      const m = Math.min(CHUNK, n - from);
      const part = histories.subarray(from * window, (from + m) * window);
      const times = Array.prototype.slice.call(startTimes, from, from + m) as number[];
      const x = buildInputs(this.recipe, part, times, m);
      const raw = await this.network.run(x, m, inputSize(this.recipe));
      out.set(decodeOutputs(this.recipe, part, raw, m), from * horizon);
    }
    return out;
  }

  async predict(inputs: InferInput[]): Promise<InferOutput[]> {
    const { values, batch } = readInputs(inputs, this.signature);
    const forecast = await this.forecast(Float32Array.from(values.get('history')!), values.get('start_time')!, batch);
    return [{ name: 'forecast', shape: [batch, this.recipe.horizon], datatype: 'FP32', data: Array.from(forecast) }];
  }

  dispose(): void {
    this.network.dispose();
  }
}
