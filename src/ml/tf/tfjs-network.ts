import { type MlBackend, tf, useBackend } from './backend.js';
import { loadModelFiles, type ModelFiles } from './model-artifacts.js';
import type { Network } from './network.js';

/** A LayersModel as a Network. Training wraps the model it is training; the caller keeps owning it unless it calls dispose(). */
export class TfjsNetwork implements Network {
  readonly runtime = 'tfjs';

  constructor(private readonly model: tf.LayersModel) {}

  async run(x: Float32Array, rows: number, cols: number): Promise<Float32Array> {
    return tf.tidy(() => (this.model.predict(tf.tensor2d(x, [rows, cols])) as tf.Tensor).dataSync() as Float32Array);
  }

  dispose(): void {
    this.model.dispose();
  }
}

/** Starts the TensorFlow.js backend and rebuilds a bundle's network from its model.json and weights.bin. */
export async function loadTfjsNetwork(files: ModelFiles, backend: MlBackend = 'wasm'): Promise<TfjsNetwork> {
  await useBackend(backend);
  return new TfjsNetwork(await loadModelFiles(files));
}
