/** Which engine runs a built-in model's network: TensorFlow.js, or ONNX Runtime on the bundle's ONNX graph. */
export type NetworkRuntime = 'onnx' | 'tfjs';

/**
 * The trained network inside a predictor, whichever engine runs it: float32 rows in, float32 rows
 * out (both row-major). Preprocessing and decoding stay in TypeScript around it, so the two
 * engines only ever differ in the network's arithmetic. Implementations: TfjsNetwork
 * (./tfjs-network.ts) and OnnxNetwork (../onnx-runtime/onnx-network.ts).
 */
export interface Network {
  readonly runtime: NetworkRuntime;
  /** Runs `rows` inputs of `cols` values each; returns rows × (the network's outputs) values. */
  run(x: Float32Array, rows: number, cols: number): Promise<Float32Array>;
  dispose(): void;
}
