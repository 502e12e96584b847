import type { BundleManifest, ModelSignature } from '../bundle/bundle-manifest.js';
import { type InferInput, type InferOutput, type Predictor, readInputs } from '../bundle/infer-tensors.js';
import { ForecasterPredictor } from '../forecast/forecaster-predictor.js';
import type { tf } from '../tf/backend.js';
import type { AnomalyRecipe } from './anomaly-recipe.js';

export function anomalySignature(window: number): ModelSignature {
  return {
    inputs: [
      { name: 'history', datatype: 'FP32', shape: [-1, window] },
      { name: 'value', datatype: 'FP32', shape: [-1] },
    ],
    outputs: [
      { name: 'expected', datatype: 'FP32', shape: [-1] },
      { name: 'score', datatype: 'FP32', shape: [-1] },
      { name: 'anomaly', datatype: 'BOOL', shape: [-1] },
    ],
  };
}

/**
 * Scores observations: a one-step forecast from the history, then the residual's robust z-score.
 * Served one point at a time the score is unsmoothed; detectAnomalies smooths over the series.
 */
export class AnomalyPredictor implements Predictor {
  readonly kind = 'anomaly-detector';
  readonly signature: ModelSignature;
  private readonly forecaster: ForecasterPredictor;

  constructor(
    model: tf.LayersModel,
    readonly recipe: AnomalyRecipe,
  ) {
    this.forecaster = new ForecasterPredictor(model, recipe.forecast);
    this.signature = anomalySignature(recipe.forecast.window);
  }

  static fromManifest(model: tf.LayersModel, manifest: BundleManifest): AnomalyPredictor {
    return new AnomalyPredictor(model, manifest.preprocessing as AnomalyRecipe);
  }

  /** Expected values and scores for n (history, value) pairs. */
  score(histories: Float32Array, values: ArrayLike<number>, n: number): { expected: Float32Array; score: Float32Array } {
    const expected = this.forecaster.forecast(histories, new Float64Array(n), n);
    const score = new Float32Array(n);
    const { center, scale } = this.recipe.residual;
    for (let i = 0; i < n; i++) score[i] = Math.abs(values[i]! - expected[i]! - center) / scale;
    return { expected, score };
  }

  async predict(inputs: InferInput[]): Promise<InferOutput[]> {
    const { values, batch } = readInputs(inputs, this.signature);
    const { expected, score } = this.score(Float32Array.from(values.get('history')!), values.get('value')!, batch);
    return [
      { name: 'expected', shape: [batch], datatype: 'FP32', data: Array.from(expected) },
      { name: 'score', shape: [batch], datatype: 'FP32', data: Array.from(score) },
      { name: 'anomaly', shape: [batch], datatype: 'BOOL', data: Array.from(score, (s) => s > this.recipe.threshold) },
    ];
  }

  dispose(): void {
    this.forecaster.dispose();
  }
}
