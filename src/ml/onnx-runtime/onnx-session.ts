import type * as ort from 'onnxruntime-node';
import { MlInputError } from '../errors.js';
import { ONNX_RUNTIME_VERSION, onnxRuntime, onnxRuntimeProblem } from './onnx-runtime-module.js';

/** How ONNX Runtime runs on this machine (agent options `--onnx-threads`, `--onnx-provider`). */
export interface OnnxRuntimeOptions {
  /** Threads one predict may use (0: ONNX Runtime's default, one per core). */
  intraOpThreads?: number;
  /** Execution provider: 'cpu' everywhere; others ('cuda', 'tensorrt', 'webgpu') where the machine has them. */
  executionProvider?: string;
}

/** Providers this build of onnxruntime-node can use without installing anything else. */
export async function availableExecutionProviders(): Promise<string[]> {
  if (await onnxRuntimeProblem()) return [];
  return (await onnxRuntime())
    .listSupportedBackends()
    .filter((backend) => backend.bundled)
    .map((backend) => backend.name);
}

/**
 * Loads an ONNX graph into ONNX Runtime. A graph it cannot load (an operator or opset it lacks,
 * a malformed graph) is the caller's input problem, so it is an MlInputError with ONNX Runtime's
 * own reason in the message.
 */
export async function createOnnxSession(bytes: Uint8Array, options: OnnxRuntimeOptions = {}): Promise<ort.InferenceSession> {
  const problem = await onnxRuntimeProblem();
  if (problem) throw new MlInputError('onnx-unsupported', problem);
  const provider = options.executionProvider ?? 'cpu';
  const providers = await availableExecutionProviders();
  if (!providers.includes(provider)) {
    throw new MlInputError(
      'bad-parameter',
      `ONNX Runtime execution provider "${provider}" is not available here; available: ${providers.join(', ')}.`,
    );
  }
  const ort = await onnxRuntime();
  try {
    return await ort.InferenceSession.create(bytes, {
      executionProviders: [provider],
      ...(options.intraOpThreads ? { intraOpNumThreads: options.intraOpThreads } : {}),
      // One predict at a time per session: the agent's micro-batcher serialises them anyway.
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      // Fatal only: a failure comes back as the thrown error, with its reason.
      logSeverityLevel: 4,
    });
  } catch (error) {
    throw new MlInputError('onnx-unsupported', `ONNX Runtime ${ONNX_RUNTIME_VERSION} cannot load the model: ${shortReason(error)}`);
  }
}

/** ONNX Runtime's messages start with a source location; the reason is what a user can act on. */
function shortReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/^\[ONNXRuntimeError\]\s*:\s*\d+\s*:\s*\w+\s*:\s*/, '').slice(0, 500);
}
