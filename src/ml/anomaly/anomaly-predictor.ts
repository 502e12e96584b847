import type { BundleManifest, ModelSignature } from '../bundle/bundle-manifest.js';
import { type InferInput, type InferOutput, type Predictor, readInputs } from '../bundle/infer-tensors.js';
import { ForecasterPredictor } from '../forecast/forecaster-predictor.js';
import type { Network, NetworkRuntime } from '../tf/network.js';
import type { AnomalyRecipe } from './anomaly-recipe.js';

/** `history` holds window + smoothing − 1 points: enough to score the new value and the smoothing − 1 points before it. */
export function anomalySignature(recipe: Pick<AnomalyRecipe, 'forecast' | 'smoothing'>): ModelSignature {
  return {
    inputs: [
      { name: 'history', datatype: 'FP32', shape: [-1, servedHistory(recipe)] },
      { name: 'value', datatype: 'FP32', shape: [-1] },
    ],
    outputs: [
      { name: 'expected', datatype: 'FP32', shape: [-1] },
      { name: 'score', datatype: 'FP32', shape: [-1] },
      { name: 'anomaly', datatype: 'BOOL', shape: [-1] },
    ],
  };
}

export function servedHistory(recipe: Pick<AnomalyRecipe, 'forecast' | 'smoothing'>): number {
  return recipe.forecast.window + recipe.smoothing - 1;
}

/**
 * Scores observations: a one-step forecast from the history, then the residual's robust z-score,
 * averaged over the last `smoothing` points. Served, the request's longer history lets it score
 * those points itself, so one stateless call gives the same score as detectAnomalies.
 */
export class AnomalyPredictor implements Predictor {
  readonly kind = 'anomaly-detector';
  readonly signature: ModelSignature;
  private readonly forecaster: ForecasterPredictor;

  constructor(
    network: Network,
    readonly recipe: AnomalyRecipe,
  ) {
    this.forecaster = new ForecasterPredictor(network, recipe.forecast);
    this.signature = anomalySignature(recipe);
  }

  static fromManifest(network: Network, manifest: BundleManifest): AnomalyPredictor {
    return new AnomalyPredictor(network, manifest.preprocessing as AnomalyRecipe);
  }

  get runtime(): NetworkRuntime {
    return this.forecaster.runtime;
  }

  /** Expected values and unsmoothed scores for n (history of forecast.window points, value) pairs. */
  async score(histories: Float32Array, values: ArrayLike<number>, n: number): Promise<{ expected: Float32Array; score: Float32Array }> {
    const expected = await this.forecaster.forecast(histories, new Float64Array(n), n);
    const score = new Float32Array(n);
    const { center, scale } = this.recipe.residual;
    for (let i = 0; i < n; i++) score[i] = Math.abs(values[i]! - expected[i]! - center) / scale;
    return { expected, score };
  }

  async predict(inputs: InferInput[]): Promise<InferOutput[]> {
    const { values, batch } = readInputs(inputs, this.signature);
    const window = this.recipe.forecast.window;
    const k = this.recipe.smoothing;
    const served = servedHistory(this.recipe);
    const history = values.get('history')!;
    const value = values.get('value')!;
    // Row r, step j scores point (served - k + 1 + j) of [history, value] from the window points before it.
    const windows = new Float32Array(batch * k * window);
    const actual = new Float64Array(batch * k);
    for (let r = 0; r < batch; r++) {
      const series = Float64Array.from({ length: served + 1 }, (_, i) => (i < served ? history[r * served + i]! : value[r]!));
      for (let j = 0; j < k; j++) {
        const p = served - k + 1 + j;
        windows.set(series.subarray(p - window, p), (r * k + j) * window);
        actual[r * k + j] = series[p]!;
      }
    }
    const { expected, score: raw } = await this.score(windows, actual, batch * k);
    const score = Float32Array.from({ length: batch }, (_, r) => raw.subarray(r * k, (r + 1) * k).reduce((s, v) => s + v, 0) / k);
    return [
      { name: 'expected', shape: [batch], datatype: 'FP32', data: Array.from({ length: batch }, (_, r) => expected[r * k + k - 1]!) },
      { name: 'score', shape: [batch], datatype: 'FP32', data: Array.from(score) },
      { name: 'anomaly', shape: [batch], datatype: 'BOOL', data: Array.from(score, (s) => s > this.recipe.threshold) },
    ];
  }

  dispose(): void {
    this.forecaster.dispose();
  }
}
