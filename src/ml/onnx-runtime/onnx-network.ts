import type * as ort from 'onnxruntime-node';
import { MlInputError } from '../errors.js';
import type { Network } from '../tf/network.js';
import { onnxRuntime } from './onnx-runtime-module.js';
import { createOnnxSession, type OnnxRuntimeOptions } from './onnx-session.js';

/**
 * A built-in model's network on ONNX Runtime: the graph that packaging exported from the same
 * weights (one float32 input [batch, cols], one float32 output). No TensorFlow.js is loaded.
 */
export class OnnxNetwork implements Network {
  readonly runtime = 'onnx';

  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly Tensor: typeof ort.Tensor,
    private readonly input: string,
    private readonly output: string,
  ) {}

  static async load(onnx: Uint8Array, options: OnnxRuntimeOptions = {}): Promise<OnnxNetwork> {
    const session = await createOnnxSession(onnx, options);
    if (session.inputNames.length !== 1 || session.outputNames.length !== 1) {
      void session.release();
      throw new MlInputError(
        'bundle-corrupt',
        `The bundle's network graph has ${session.inputNames.length} inputs and ${session.outputNames.length} outputs; a built-in model's has one of each.`,
      );
    }
    // Loaded on use, like the session itself: importing this module must not need ONNX Runtime.
    const { Tensor } = await onnxRuntime();
    return new OnnxNetwork(session, Tensor, session.inputNames[0]!, session.outputNames[0]!);
  }

  async run(x: Float32Array, rows: number, cols: number): Promise<Float32Array> {
    const results = await this.session.run({ [this.input]: new this.Tensor('float32', x, [rows, cols]) });
    return results[this.output]!.data as Float32Array;
  }

  dispose(): void {
    void this.session.release();
  }
}
